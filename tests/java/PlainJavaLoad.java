import java.io.File;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Loads a model zip the way a Java service does, with nothing of py_dl4j_ft on the classpath
 * but DL4J, and prints what the Python test compares: the parameter count, every parameter,
 * and the output for the input in an .npy file. Run as a single-file source program:
 * java -cp DL4J_JARS tests/java/PlainJavaLoad.java KIND MODEL.zip INPUT.npy
 */
public class PlainJavaLoad {
    public static void main(String[] args) throws Exception {
        File zip = new File(args[1]);
        Model model;
        INDArray output;
        INDArray input = Nd4j.createFromNpyFile(new File(args[2]));
        if (args[0].equals("MultiLayerNetwork")) {
            MultiLayerNetwork net = MultiLayerNetwork.load(zip, true);
            output = net.output(input);
            model = net;
        } else {
            ComputationGraph graph = ComputationGraph.load(zip, true);
            output = graph.outputSingle(input);
            model = graph;
        }
        StringBuilder out = new StringBuilder();
        out.append("params ").append(model.numParams()).append('\n');
        out.append("values");
        for (float v : model.params().toFloatVector()) {
            out.append(' ').append(Float.floatToIntBits(v));
        }
        out.append("\noutput");
        for (float v : output.dup('c').reshape(output.length()).toFloatVector()) {
            out.append(' ').append(Float.floatToIntBits(v));
        }
        System.out.println(out);
    }
}
