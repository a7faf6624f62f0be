package org.deeplearning4j.regressiontest.customlayer100a;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.layers.BaseLayer;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** The forward pass of {@link CustomLayer}: W x + b, then one activation per half. */
public class CustomLayerImpl extends BaseLayer<CustomLayer> {
    public CustomLayerImpl(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    @Override
    public boolean isPretrainLayer() {
        return false;
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        INDArray z = preOutput(training, workspaceMgr);
        long split = z.columns() / 2;
        INDArray first = z.get(NDArrayIndex.all(), NDArrayIndex.interval(0, split));
        INDArray second = z.get(NDArrayIndex.all(), NDArrayIndex.interval(split, z.columns()));
        first.assign(layerConf().getActivationFn().getActivation(first, training));
        second.assign(layerConf().getSecondActivationFunction().getActivation(second, training));
        return z;
    }
}
