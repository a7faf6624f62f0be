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
 * The training loop behind fit and fine-tune: all epochs and minibatches run here, in one
 * call from Python, through DL4J's own fit(DataSetIterator).
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

    /**
     * Trains {@code model}; returns two rows: the mean minibatch loss of each epoch, and
     * each epoch's wall time in seconds.
     *
     * @param progress may be null
     */
    public static double[][] fit(Model model, INDArray features, INDArray labels, int batchSize,
            int epochs, boolean shuffle, long seed, Progress progress) {
        BatchIterator batches = new BatchIterator(features, labels, batchSize, shuffle, seed);
        Snapshot before = new Snapshot(model);
        ScoreListener scores = new ScoreListener(batches, progress);
        Collection<TrainingListener> previous = new ArrayList<>(listeners(model));
        Collection<TrainingListener> during = new ArrayList<>(previous);
        during.add(scores);
        model.setListeners(during);

        double[] epochLoss = new double[epochs];
        double[] epochSeconds = new double[epochs];
        try {
            for (int e = 0; e < epochs; e++) {
                long started = System.nanoTime();
                scores.startEpoch(e, batches.batchesPerEpoch());
                batches.reset();
                if (model instanceof MultiLayerNetwork) {
                    ((MultiLayerNetwork) model).fit(batches);
                } else {
                    ((ComputationGraph) model).fit(batches);
                }
                // DL4J scores each minibatch before its update, so the epoch's last update
                // is judged here, on the parameters and on that minibatch once more.
                double total = model.params().sumNumber().doubleValue();
                if (!scores.diverged() && !Double.isFinite(total)) {
                    scores.markDiverged("parameters became non-finite in epoch " + (e + 1));
                } else if (!scores.diverged() && batches.last() != null) {
                    double after = Inference.score(model, batches.last());
                    if (!Double.isFinite(after)) {
                        scores.markDiverged("loss became " + after
                                + " after the last update of epoch " + (e + 1));
                    }
                }
                if (scores.diverged()) {
                    throw new TrainingDivergedException(scores.divergenceMessage());
                }
                epochLoss[e] = scores.epochMean();
                epochSeconds[e] = (System.nanoTime() - started) / 1e9;
            }
        } catch (RuntimeException | Error failure) {
            before.restore(model);
            throw failure;
        } finally {
            model.setListeners(previous);
        }
        return new double[][] {epochLoss, epochSeconds};
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
