package org.pydl4jft;

import java.util.ArrayList;
import java.util.Collection;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.updater.BaseMultiLayerUpdater;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The pieces of the training loop ({@link EarlyStop#fit}) that are about one minibatch or
 * one model: progress to Python, scores and their divergence check, snapshots.
 *
 * <p>A non-finite minibatch score, or non-finite parameters after an epoch, stop training,
 * put parameters, updater state and counters back as they were before the call, and throw
 * {@link TrainingDivergedException}, so a bad learning rate never leaves a NaN model behind.
 * Any other exception (from the progress callback, say) also restores the model before it
 * propagates: a failed call leaves the network as it found it.
 */
public final class Trainer {
    private Trainer() {}

    /** Receives progress from the loop; Python implements it for its progress bar. */
    public interface Progress {
        void onBatch(int epoch, int batch, int batchesPerEpoch, double score);
    }

    /** Thrown when the loss is no longer finite; the model is as it was before fit. */
    public static final class TrainingDivergedException extends RuntimeException {
        public TrainingDivergedException(String message) {
            super(message);
        }
    }

    static Collection<TrainingListener> listeners(Model model) {
        Collection<TrainingListener> l = model instanceof MultiLayerNetwork
                ? ((MultiLayerNetwork) model).getListeners()
                : ((ComputationGraph) model).getListeners();
        return l == null ? new ArrayList<>() : l;
    }

    static final class ScoreListener extends BaseTrainingListener {
        private final BatchIterator batches;
        private final Progress progress;
        private int epoch;
        private int batchesPerEpoch;
        private int batch;
        private double sum;
        private long weight;
        private double badScore = Double.NaN;
        private boolean diverged;
        private String reason;

        ScoreListener(BatchIterator batches, Progress progress) {
            this.batches = batches;
            this.progress = progress;
        }

        void startEpoch(int e, int n) {
            epoch = e;
            batchesPerEpoch = n;
            batch = 0;
            sum = 0;
            weight = 0;
        }

        @Override
        public void iterationDone(Model model, int iteration, int dl4jEpoch) {
            double score = model.score();
            long n = model.batchSize();
            if (!Double.isFinite(score)) {
                diverged = true;
                badScore = score;
                batches.stop();
                return;
            }
            sum += score * n;
            weight += n;
            batch++;
            if (progress != null) {
                progress.onBatch(epoch, batch, batchesPerEpoch, score);
            }
        }

        boolean diverged() {
            return diverged;
        }

        void markDiverged(String why) {
            diverged = true;
            reason = why;
        }

        String divergenceMessage() {
            if (reason != null) {
                return reason;
            }
            return "loss became " + badScore + " in epoch " + (epoch + 1) + ", minibatch "
                    + (batch + 1);
        }

        double epochMean() {
            return weight == 0 ? Double.NaN : sum / weight;
        }
    }

    /** Parameters, updater state and counters, to undo a diverged fit. */
    static final class Snapshot {
        private final INDArray params;
        private final INDArray updaterState;
        private final int iterations;
        private final int epochs;

        Snapshot(Model model) {
            params = model.params().dup();
            INDArray state = updater(model).getStateViewArray();
            updaterState = state == null ? null : state.dup();
            if (model instanceof MultiLayerNetwork) {
                MultiLayerNetwork m = (MultiLayerNetwork) model;
                iterations = m.getLayerWiseConfigurations().getIterationCount();
                epochs = m.getLayerWiseConfigurations().getEpochCount();
            } else {
                ComputationGraph g = (ComputationGraph) model;
                iterations = g.getConfiguration().getIterationCount();
                epochs = g.getConfiguration().getEpochCount();
            }
        }

        void restore(Model model) {
            model.params().assign(params);
            if (updaterState != null) {
                updater(model).getStateViewArray().assign(updaterState);
            }
            if (model instanceof MultiLayerNetwork) {
                MultiLayerNetwork m = (MultiLayerNetwork) model;
                m.getLayerWiseConfigurations().setIterationCount(iterations);
                m.getLayerWiseConfigurations().setEpochCount(epochs);
            } else {
                ComputationGraph g = (ComputationGraph) model;
                g.getConfiguration().setIterationCount(iterations);
                g.getConfiguration().setEpochCount(epochs);
            }
        }

        private static BaseMultiLayerUpdater<?> updater(Model model) {
            if (model instanceof MultiLayerNetwork) {
                return (BaseMultiLayerUpdater<?>) ((MultiLayerNetwork) model).getUpdater(true);
            }
            return ((ComputationGraph) model).getUpdater(true);
        }
    }
}
