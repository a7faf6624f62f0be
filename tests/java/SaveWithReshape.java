import java.io.File;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.preprocessors.ReshapePreprocessor;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * Saves a small network with a ReshapePreprocessor, the kind Keras import puts in, to the
 * zip named by the first argument. DL4J 1.0.0-M2 moved that class out of modelimport;
 * tests rename it back to its old package to stand in for a file saved before the move.
 * Run as a single-file source program: java -cp DL4J_JARS tests/java/SaveWithReshape.java OUT
 */
public class SaveWithReshape {
    public static void main(String[] args) throws Exception {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(7)
                .list()
                .layer(new DenseLayer.Builder().nIn(4).nOut(6)
                        .activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                        .nIn(6).nOut(3).activation(Activation.SOFTMAX).build())
                .inputPreProcessor(1,
                        new ReshapePreprocessor(new long[] {6}, new long[] {6}, false))
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        ModelSerializer.writeModel(net, new File(args[0]), true);
    }
}
