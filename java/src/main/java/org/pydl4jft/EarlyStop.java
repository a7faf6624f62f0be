package org.pydl4jft;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.shade.jackson.databind.ObjectMapper;

/**
 * The training loop with validation, early stopping and a stop request: every epoch runs
 * DL4J's own fit(DataSetIterator), then DL4J's Evaluation or RegressionEvaluation on the
 * validation set.
 *
 * <p>Early stopping is done here rather than with DL4J's EarlyStoppingTrainer, which saves
 * the best model through a ModelSaver and reloads it: the best epoch's parameters, updater
 * state and iteration/epoch counters are copied in memory ({@link Trainer.Snapshot}) and
 * copied back into the same network at the end, so the caller's network object, listeners
 * and normalizer stay as they were and a later resume continues from that epoch exactly.
 *
 * <p>A stop request (Ctrl-C on the Python side) is polled between minibatches, at most once
 * per {@code checkSeconds} and at every epoch end; the epoch in flight ends after the
 * current minibatch. Divergence and any other failure restore the model as it was before
 * the call (see {@link Trainer}).
 */
public final class EarlyStop {
    private EarlyStop() {}

    /** Validation minibatch size: Python's evaluate() default, so the numbers agree. */
    private static final int EVAL_BATCH = 1024;

    /**
     * The shape of the network's output for the first example of {@code features}
     * (inference mode), so that labels of a sequence output can be checked before
     * training.
     */
    public static long[] outputShape(Model model, INDArray features) {
        INDArray first = features.get(NDArrayIndex.interval(0, 1));
        INDArray out = model instanceof MultiLayerNetwork
                ? ((MultiLayerNetwork) model).output(first, false)
                : ((ComputationGraph) model).output(false, first)[0];
        return out.shape();
    }

    /** Asked between minibatches whether training should stop; Python implements it. */
    public interface Interrupt {
        boolean requested();
    }

    /**
     * Trains {@code model} and returns, as JSON: {@code loss} and {@code seconds} per epoch
     * run, {@code validation} (metrics per epoch, or nulls), {@code batches} (minibatches run
     * per epoch), {@code best} (index of the best epoch, or -1), {@code restored} (whether
     * the model was put back to the best epoch or to its state before the call) and
     * {@code stopped}: "completed", "early_stopping" or "interrupted".
     *
     * @param valFeatures validation features, or null for none
     * @param metric the metric to stop on, or null for no early stopping
     * @param progress may be null
     * @param interrupt may be null
     */
    public static String fit(Model model, INDArray features, INDArray labels,
            INDArray valFeatures, INDArray valLabels, boolean classification, int batchSize,
            int epochs, boolean shuffle, long seed, Trainer.Progress progress,
            Interrupt interrupt, double checkSeconds, String metric, boolean maximize,
            int patience, double minDelta) throws Exception {
        BatchIterator batches = new BatchIterator(features, labels, batchSize, shuffle, seed);
        Trainer.Snapshot before = new Trainer.Snapshot(model);
        Trainer.ScoreListener scores = new Trainer.ScoreListener(batches, progress);
        Stopper stopper = new Stopper(batches, interrupt, checkSeconds);
        Collection<TrainingListener> previous = new ArrayList<>(Trainer.listeners(model));
        Collection<TrainingListener> during = new ArrayList<>(previous);
        during.add(scores);
        during.add(stopper);
        model.setListeners(during);

        List<Double> losses = new ArrayList<>();
        List<Double> seconds = new ArrayList<>();
        List<Integer> batchCounts = new ArrayList<>();
        List<Map<String, Object>> validation = new ArrayList<>();
        String stopped = "completed";
        Trainer.Snapshot best = null;
        double bestValue = Double.NaN;
        int bestIndex = -1;
        int waited = 0;
        boolean restored = false;
        ObjectMapper json = new ObjectMapper();
        try {
            for (int e = 0; e < epochs; e++) {
                long started = System.nanoTime();
                scores.startEpoch(e, batches.batchesPerEpoch());
                stopper.startEpoch();
                batches.reset();
                if (model instanceof MultiLayerNetwork) {
                    ((MultiLayerNetwork) model).fit(batches);
                } else {
                    ((ComputationGraph) model).fit(batches);
                }
                checkFinite(model, scores, batches, e);
                boolean cut = stopper.atEpochEnd();
                boolean complete = stopper.batches() == batches.batchesPerEpoch();
                losses.add(scores.epochMean());
                seconds.add((System.nanoTime() - started) / 1e9);
                batchCounts.add(stopper.batches());

                Map<String, Object> metrics = null;
                if (valFeatures != null) {
                    metrics = json.readValue(Inference.evaluate(model, valFeatures, valLabels,
                            EVAL_BATCH, classification), LinkedHashMap.class);
                }
                validation.add(metrics);
                if (metric != null && metrics != null && complete) {
                    double value = ((Number) metrics.get(metric)).doubleValue();
                    boolean better = maximize ? value > bestValue + minDelta
                            : value < bestValue - minDelta;
                    if (bestIndex < 0 || better) {
                        best = new Trainer.Snapshot(model);
                        bestValue = value;
                        bestIndex = e;
                        waited = 0;
                    } else if (++waited >= patience && !cut) {
                        stopped = "early_stopping";
                        break;
                    }
                }
                if (cut) {
                    stopped = "interrupted";
                    break;
                }
            }
            if (metric != null && valFeatures != null) {
                // The model handed back is the best epoch's; without a complete epoch, the
                // one the call started from.
                (best != null ? best : before).restore(model);
                restored = true;
            }
        } catch (RuntimeException | Error failure) {
            before.restore(model);
            throw failure;
        } finally {
            model.setListeners(previous);
        }

        Map<String, Object> result = new LinkedHashMap<>();
        result.put("loss", losses);
        result.put("seconds", seconds);
        result.put("batches", batchCounts);
        result.put("validation", validation);
        result.put("best", bestIndex);
        result.put("restored", restored);
        result.put("stopped", stopped);
        return json.writeValueAsString(result);
    }

    /** A non-finite loss or parameter ends training ({@link Trainer.ScoreListener}). */
    private static void checkFinite(Model model, Trainer.ScoreListener scores,
            BatchIterator batches, int e) {
        double total = model.params().sumNumber().doubleValue();
        if (!scores.diverged() && !Double.isFinite(total)) {
            scores.markDiverged("parameters became non-finite in epoch " + (e + 1));
        } else if (!scores.diverged() && batches.last() != null) {
            double after = Inference.score(model, batches.last());
            if (!Double.isFinite(after)) {
                scores.markDiverged("loss became " + after + " after the last update of epoch "
                        + (e + 1));
            }
        }
        if (scores.diverged()) {
            throw new Trainer.TrainingDivergedException(scores.divergenceMessage());
        }
    }

    /** Counts minibatches and polls the stop request, throttled in time. */
    private static final class Stopper extends BaseTrainingListener {
        private final BatchIterator batches;
        private final Interrupt interrupt;
        private final long intervalNanos;
        private long lastCheck;
        private boolean requested;
        private int batch;

        Stopper(BatchIterator batches, Interrupt interrupt, double checkSeconds) {
            this.batches = batches;
            this.interrupt = interrupt;
            this.intervalNanos = (long) (checkSeconds * 1e9);
            this.lastCheck = System.nanoTime();
        }

        void startEpoch() {
            batch = 0;
        }

        int batches() {
            return batch;
        }

        @Override
        public void iterationDone(Model model, int iteration, int epoch) {
            batch++;
            if (interrupt == null || requested) {
                return;
            }
            long now = System.nanoTime();
            if (now - lastCheck >= intervalNanos) {
                lastCheck = now;
                poll();
            }
        }

        /** Whether a stop was requested; always asks once more at an epoch's end. */
        boolean atEpochEnd() {
            if (interrupt != null && !requested) {
                poll();
            }
            return requested;
        }

        private void poll() {
            if (interrupt.requested()) {
                requested = true;
                batches.stop();
            }
        }
    }
}
