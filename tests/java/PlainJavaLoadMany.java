import java.io.File;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.api.Updater;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.preprocessor.DataNormalization;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Loads several model zips the way a Java service does, with nothing of py_dl4j_ft on the
 * classpath, in one process: for each, the parameters, the optimizer state and the output
 * for the input in an .npy file (normalized first by the normalizer in the zip, if any),
 * as float bit patterns. Run as a single-file source program:
 * java -cp DL4J_JARS tests/java/PlainJavaLoadMany.java KIND ZIP INPUT.npy|- [KIND ...]
 */
public class PlainJavaLoadMany {
    public static void main(String[] args) throws Exception {
        for (int i = 0; i + 2 < args.length; i += 3) {
            File zip = new File(args[i + 1]);
            // "-" for no input: the parameters and state are still compared.
            INDArray input = args[i + 2].equals("-")
                    ? null : Nd4j.createFromNpyFile(new File(args[i + 2]));
            DataNormalization norm = ModelSerializer.restoreNormalizerFromFile(zip);
            if (norm != null && input != null) {
                norm.transform(input);
            }
            Model model;
            INDArray output;
            Updater updater;
            if (args[i].equals("MultiLayerNetwork")) {
                MultiLayerNetwork net = MultiLayerNetwork.load(zip, true);
                output = input == null ? null : net.output(input);
                updater = net.getUpdater(false);
                model = net;
            } else {
                ComputationGraph graph = ComputationGraph.load(zip, true);
                output = input == null ? null : graph.outputSingle(input);
                updater = graph.getUpdater(false);
                model = graph;
            }
            StringBuilder out = new StringBuilder();
            out.append("model ").append(args[i + 1]).append('\n');
            out.append("normalizer ").append(norm != null).append('\n');
            out.append("values").append(bits(model.params())).append('\n');
            INDArray state = updater == null ? null : stateOf(updater);
            out.append("state").append(state == null ? "" : bits(state)).append('\n');
            out.append("output").append(output == null ? "" : bits(output));
            System.out.println(out);
        }
    }

    private static INDArray stateOf(Updater updater) {
        if (updater instanceof org.deeplearning4j.nn.updater.BaseMultiLayerUpdater) {
            return ((org.deeplearning4j.nn.updater.BaseMultiLayerUpdater<?>) updater)
                    .getStateViewArray();
        }
        return null;
    }

    private static String bits(INDArray array) {
        StringBuilder out = new StringBuilder();
        for (float v : array.dup('c').reshape(array.length()).toFloatVector()) {
            out.append(' ').append(Float.floatToIntBits(v));
        }
        return out.toString();
    }
}
