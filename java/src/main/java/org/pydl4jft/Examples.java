package org.pydl4jft;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/** Small networks built with DL4J's own builders, for the demo, the benchmark and tests. */
public final class Examples {
    private Examples() {}

    /** Stands in for seed 0, which ND4J's generator takes as "pick a random seed". */
    static final long SEED_ZERO = 0x5EED0000L;

    /**
     * The seed to give ND4J or DL4J for a user's seed: the same, except 0, which would
     * make the run unrepeatable, becomes {@link #SEED_ZERO}.
     */
    public static long nd4jSeed(long seed) {
        return seed == 0 ? SEED_ZERO : seed;
    }

    /** A freshly initialised classifier: nIn -> hidden (ReLU) -> nOut (softmax), Adam. */
    public static MultiLayerNetwork mlp(int nIn, int hidden, int nOut, double learningRate,
            long seed) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(nd4jSeed(seed))
                .updater(new Adam(learningRate))
                .weightInit(WeightInit.XAVIER)
                .list()
                .layer(new DenseLayer.Builder().nIn(nIn).nOut(hidden)
                        .activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                        .nIn(hidden).nOut(nOut).activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }
}
