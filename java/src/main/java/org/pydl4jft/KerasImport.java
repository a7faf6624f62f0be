package org.pydl4jft;

import org.bytedeco.hdf5.H5E_auto2_t;
import org.bytedeco.hdf5.global.hdf5;
import org.bytedeco.javacpp.Pointer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.modelimport.keras.Hdf5Archive;
import org.deeplearning4j.nn.modelimport.keras.KerasModel;
import org.deeplearning4j.nn.modelimport.keras.utils.KerasModelBuilder;

/**
 * Keras HDF5 files to DL4J networks through DL4J's own model import, with the model
 * configuration passed in by Python (which may have adjusted it, see migrate.py).
 */
public final class KerasImport {
    private KerasImport() {}

    static {
        // The HDF5 library prints its own error stack to stderr on a damaged file; the
        // Java exception that follows already says what failed, so the print is turned
        // off (for this process, which reads HDF5 only here).
        hdf5.H5Eset_auto2(hdf5.H5E_DEFAULT(), (H5E_auto2_t) null, (Pointer) null);
    }

    /**
     * The model configuration of a Keras HDF5 file as DL4J's import reads it (with the
     * file's Keras version and backend added), or null for a weights-only file.
     */
    public static String modelConfig(String path) throws Exception {
        try (Hdf5Archive archive = new Hdf5Archive(path)) {
            if (!archive.hasAttribute("model_config")) {
                return null;
            }
        }
        try (KerasModelBuilder builder = new KerasModel().modelBuilder()) {
            return builder.modelHdf5Filename(path).getModelJson();
        }
    }

    /**
     * Builds the network described by {@code modelJson} with the weights (and the training
     * configuration, for the loss) stored in {@code path}: a MultiLayerNetwork for a
     * Sequential model, a ComputationGraph otherwise.
     */
    public static Model load(String path, String modelJson, boolean sequential,
            boolean withTraining) throws Exception {
        try (KerasModelBuilder builder = new KerasModel().modelBuilder()) {
            builder.modelHdf5Filename(path).modelJson(modelJson)
                    .enforceTrainingConfig(withTraining);
            if (sequential) {
                return builder.buildSequential().getMultiLayerNetwork();
            }
            return builder.buildModel().getComputationGraph();
        }
    }
}
