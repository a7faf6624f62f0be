package org.deeplearning4j.regressiontest.customlayer100a;

import java.util.Collection;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.ParamInitializer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.memory.LayerMemoryReport;
import org.deeplearning4j.nn.params.DefaultParamInitializer;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A user's custom layer, written for py_dl4j_ft's tests under the class name that DL4J's
 * CustomLayerExample checkpoints store: a dense layer whose outputs are split in two
 * halves, the first through the layer's activation, the second through a second one.
 * Inference only.
 */
public class CustomLayer extends FeedForwardLayer {
    private IActivation secondActivationFunction;

    public CustomLayer() {}

    public IActivation getSecondActivationFunction() {
        return secondActivationFunction;
    }

    public void setSecondActivationFunction(IActivation activation) {
        this.secondActivationFunction = activation;
    }

    @Override
    public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> listeners,
            int index, INDArray paramsView, boolean initialize, DataType dataType) {
        CustomLayerImpl layer = new CustomLayerImpl(conf, dataType);
        layer.setListeners(listeners);
        layer.setIndex(index);
        layer.setParamsViewArray(paramsView);
        layer.setParamTable(initializer().init(conf, paramsView, initialize));
        layer.setConf(conf);
        return layer;
    }

    @Override
    public ParamInitializer initializer() {
        return DefaultParamInitializer.getInstance();
    }

    @Override
    public LayerMemoryReport getMemoryReport(InputType inputType) {
        throw new UnsupportedOperationException("not needed for these tests");
    }
}
