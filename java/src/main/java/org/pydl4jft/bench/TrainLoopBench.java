package org.pydl4jft.bench;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.ViewIterator;
import org.nd4j.linalg.factory.Nd4j;
import java.util.List;
import java.util.Map;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.pydl4jft.EarlyStop;
import org.pydl4jft.Examples;

/**
 * The pure-Java side of bench/run.py: the same training loop as {@code PreTrainedModel.train},
 * run in a plain JVM, so that the difference to the Python run is the bridge alone.
 *
 * <pre>
 * java -cp CLASSPATH org.pydl4jft.bench.TrainLoopBench DATA_DIR HIDDEN LR SEED BATCH EPOCHS WARMUP
 * </pre>
 *
 * <p>DATA_DIR holds {@code features.npy} (float32, rows x nIn) and {@code labels.npy} (float32
 * one-hot, rows x nOut). Two networks are built with {@link Examples#mlp}: one trained through
 * {@link EarlyStop#fit}, the loop the bridge calls (here without validation, as
 * {@code train} calls it without), and one through DL4J's plain
 * {@code net.fit(iterator)} on ND4J's {@link ViewIterator}. Both get WARMUP epochs first; then
 * one JSON line {@code {"event":"ready",...}} is printed. Each line then read from stdin,
 * {@code trainer SEED} or {@code plain SEED}, runs one round of EPOCHS epochs on that network,
 * shuffled with SEED, and prints one JSON line: wall and process CPU seconds of the round,
 * seconds and loss of each epoch (for the plain loop, the score of the last minibatch). End
 * of input ends the run. Reading rounds from stdin lets the caller interleave them with its
 * own.
 */
public final class TrainLoopBench {
    private TrainLoopBench() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 7) {
            System.err.println("usage: TrainLoopBench DATA_DIR HIDDEN LR SEED BATCH EPOCHS WARMUP");
            System.exit(2);
        }
        File dir = new File(args[0]);
        int hidden = Integer.parseInt(args[1]);
        double lr = Double.parseDouble(args[2]);
        long seed = Long.parseLong(args[3]);
        int batch = Integer.parseInt(args[4]);
        int epochs = Integer.parseInt(args[5]);
        int warmup = Integer.parseInt(args[6]);

        // Same data as the Python side, read back from the files it wrote.
        INDArray x = Nd4j.createFromNpyFile(new File(dir, "features.npy"));
        INDArray y = Nd4j.createFromNpyFile(new File(dir, "labels.npy"));
        int nIn = (int) x.size(1);
        int nOut = (int) y.size(1);

        // The plain loop shuffles its DataSet in place, so it gets its own copy of the data.
        MultiLayerNetwork viaTrainer = Examples.mlp(nIn, hidden, nOut, lr, seed);
        MultiLayerNetwork plain = Examples.mlp(nIn, hidden, nOut, lr, seed);
        DataSet plainData = new DataSet(x.dup(), y.dup());
        ViewIterator plainBatches = new ViewIterator(plainData, batch);

        // Warm-up: JIT, ND4J's first-call set-up and workspaces, excluded from all timings.
        bridgeLoop(viaTrainer, x, y, batch, warmup, seed);
        plainRound(plain, plainData, plainBatches, warmup, seed);
        System.out.println("{\"event\":\"ready\",\"java_version\":\""
                + System.getProperty("java.version") + "\",\"java_home\":\""
                + System.getProperty("java.home").replace("\\", "\\\\") + "\",\"backend\":\""
                + Nd4j.getBackend().getClass().getSimpleName() + "\",\"rows\":" + x.size(0)
                + ",\"n_in\":" + nIn + ",\"n_out\":" + nOut + "}");
        System.out.flush();

        BufferedReader in = new BufferedReader(
                new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            String[] words = line.trim().split("\\s+");
            if (words.length != 2) {
                throw new IllegalArgumentException("expected 'trainer SEED' or 'plain SEED'");
            }
            long roundSeed = Long.parseLong(words[1]);
            long started = System.nanoTime();
            long cpuStarted = processCpuNanos();
            double[][] result;
            if (words[0].equals("trainer")) {
                result = bridgeLoop(viaTrainer, x, y, batch, epochs, roundSeed);
            } else if (words[0].equals("plain")) {
                result = plainRound(plain, plainData, plainBatches, epochs, roundSeed);
            } else {
                throw new IllegalArgumentException("unknown loop " + words[0]);
            }
            double wall = (System.nanoTime() - started) / 1e9;
            double cpu = (processCpuNanos() - cpuStarted) / 1e9;
            System.out.println("{\"event\":\"round\",\"loop\":\"" + words[0] + "\",\"seed\":"
                    + roundSeed + ",\"wall_s\":" + wall + ",\"cpu_s\":" + cpu
                    + ",\"epoch_s\":" + json(result[1])
                    + ",\"loss\":" + json(result[0]) + "}");
            System.out.flush();
        }
    }

    /** The loop train() runs, called directly; returns the epoch losses and seconds. */
    private static double[][] bridgeLoop(MultiLayerNetwork net, INDArray x, INDArray y,
            int batch, int epochs, long seed) throws IOException {
        String report;
        try {
            report = EarlyStop.fit(net, x, y, null, null, true, batch, epochs, true, seed,
                    null, null, 0.1, null, false, 0, 0.0);
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e);
        }
        Map<?, ?> parsed = new ObjectMapper().readValue(report, Map.class);
        return new double[][] {numbers((List<?>) parsed.get("loss")),
                numbers((List<?>) parsed.get("seconds"))};
    }

    private static double[] numbers(List<?> values) {
        double[] out = new double[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ((Number) values.get(i)).doubleValue();
        }
        return out;
    }

    /** DL4J's own loop: shuffle, then fit(iterator); returns the scores and epoch seconds. */
    private static double[][] plainRound(MultiLayerNetwork net, DataSet data,
            ViewIterator batches, int epochs, long seed) {
        double[] scores = new double[epochs];
        double[] seconds = new double[epochs];
        for (int e = 0; e < epochs; e++) {
            long started = System.nanoTime();
            data.shuffle(seed + e);
            batches.reset();
            net.fit(batches);
            seconds[e] = (System.nanoTime() - started) / 1e9;
            scores[e] = net.score();
        }
        return new double[][] {scores, seconds};
    }

    /** CPU time of all threads of this process, ND4J's native ones included. */
    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean)
                ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private static String json(double[] values) {
        StringBuilder out = new StringBuilder("[");
        for (int i = 0; i < values.length; i++) {
            out.append(i == 0 ? "" : ",").append(Double.isFinite(values[i]) ? values[i] : "null");
        }
        return out.append(']').toString();
    }
}
