package org.pydl4jft;

import java.util.LinkedHashMap;
import java.util.Map;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.evaluation.classification.Evaluation;
import org.nd4j.evaluation.regression.RegressionEvaluation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.shade.jackson.databind.ObjectMapper;

/** Batched prediction and DL4J's own evaluation metrics, each in one crossing. */
public final class Inference {
    private Inference() {}

    /** The model's output for every row of {@code features}, in inference mode. */
    public static INDArray predict(Model model, INDArray features, int batchSize) {
        // Only the features are sliced; the iterator wants labels, so it gets them twice.
        BatchIterator batches = new BatchIterator(features, features, batchSize, false, 0);
        int n = batches.batchesPerEpoch();
        if (n == 1) {
            return output(model, features);
        }
        INDArray[] parts = new INDArray[n];
        for (int i = 0; batches.hasNext(); i++) {
            parts[i] = output(model, batches.next().getFeatures());
        }
        return Nd4j.concat(0, parts);
    }

    static INDArray output(Model model, INDArray features) {
        if (model instanceof MultiLayerNetwork) {
            return ((MultiLayerNetwork) model).output(features, false);
        }
        return ((ComputationGraph) model).outputSingle(false, features);
    }

    /**
     * Loss and metrics over the whole set, as JSON. Classification reports accuracy and
     * macro-averaged precision, recall and F1 from DL4J's Evaluation; regression reports
     * column-averaged MSE, MAE, RMSE and R^2 from RegressionEvaluation.
     */
    public static String evaluate(Model model, INDArray features, INDArray labels,
            int batchSize, boolean classification) throws Exception {
        BatchIterator batches = new BatchIterator(features, labels, batchSize, false, 0);
        Evaluation cls = new Evaluation();
        RegressionEvaluation reg = new RegressionEvaluation();
        double lossSum = 0;
        long rows = 0;
        while (batches.hasNext()) {
            DataSet batch = batches.next();
            INDArray out = output(model, batch.getFeatures());
            if (classification) {
                cls.eval(oneHot(batch.getLabels(), out), out);
            } else {
                reg.eval(batch.getLabels(), out);
            }
            long n = batch.getFeatures().size(0);
            lossSum += score(model, batch) * n;
            rows += n;
        }

        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("loss", lossSum / rows);
        if (classification) {
            metrics.put("accuracy", cls.accuracy());
            metrics.put("precision", cls.precision());
            metrics.put("recall", cls.recall());
            metrics.put("f1", cls.f1());
        } else {
            metrics.put("mse", reg.averageMeanSquaredError());
            metrics.put("mae", reg.averageMeanAbsoluteError());
            metrics.put("rmse", reg.averagerootMeanSquaredError());
            metrics.put("r2", reg.averageRSquared());
        }
        metrics.put("examples", rows);
        return new ObjectMapper().writeValueAsString(metrics);
    }

    /**
     * Labels as Evaluation takes them. A sparse cross-entropy output (Keras import) is
     * trained on one class id per row, [n, 1]; Evaluation wants one column per class.
     */
    static INDArray oneHot(INDArray labels, INDArray out) {
        if (labels.rank() != 2 || labels.size(1) != 1 || out.rank() != 2
                || out.size(1) == 1) {
            return labels;
        }
        INDArray hot = Nd4j.zeros(out.dataType(), labels.size(0), out.size(1));
        for (long i = 0; i < labels.size(0); i++) {
            hot.putScalar(i, (long) labels.getDouble(i, 0), 1.0);
        }
        return hot;
    }

    static double score(Model model, DataSet batch) {
        if (model instanceof MultiLayerNetwork) {
            return ((MultiLayerNetwork) model).score(batch, false);
        }
        return ((ComputationGraph) model).score(batch, false);
    }
}
