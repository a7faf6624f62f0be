package org.pydl4jft;

import java.util.List;
import java.util.Random;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.indexing.INDArrayIndex;

/**
 * Minibatches over arrays already in ND4J memory, reshuffled on every reset.
 *
 * <p>DL4J's own fit(DataSetIterator) drives the loop, so epoch counters, listeners and
 * workspaces behave exactly as they do in a Java service. Asynchronous prefetch is declined:
 * the data is already in memory and a prefetch thread would break the seeded order.
 */
final class BatchIterator implements DataSetIterator {
    private final INDArray features;
    private final INDArray labels;
    private final int batchSize;
    private final boolean shuffle;
    private final Random random;
    private final int rows;
    private int[] order;
    private int cursor;
    private DataSet last;
    private volatile boolean stopped;

    BatchIterator(INDArray features, INDArray labels, int batchSize, boolean shuffle, long seed) {
        this.features = features;
        this.labels = labels;
        this.batchSize = batchSize;
        this.shuffle = shuffle;
        this.random = new Random(seed);
        this.rows = (int) features.size(0);
        this.order = new int[rows];
        for (int i = 0; i < rows; i++) {
            order[i] = i;
        }
        reset();
    }

    /** Ends the current epoch after the batch in flight; DL4J then leaves fit() cleanly. */
    void stop() {
        stopped = true;
    }

    boolean isStopped() {
        return stopped;
    }

    /** The minibatch most recently handed out, or null before the first. */
    DataSet last() {
        return last;
    }

    int batchesPerEpoch() {
        return (rows + batchSize - 1) / batchSize;
    }

    @Override
    public boolean hasNext() {
        return !stopped && cursor < rows;
    }

    @Override
    public DataSet next() {
        return next(batchSize);
    }

    @Override
    public DataSet next(int num) {
        int end = Math.min(rows, cursor + num);
        DataSet batch;
        if (shuffle) {
            int[] picked = java.util.Arrays.copyOfRange(order, cursor, end);
            batch = new DataSet(pickRows(features, picked), pickRows(labels, picked));
        } else {
            batch = new DataSet(rowRange(features, cursor, end), rowRange(labels, cursor, end));
        }
        cursor = end;
        last = batch;
        return batch;
    }

    /** Copies the given examples (first axis) of an array of any rank. */
    private static INDArray pickRows(INDArray a, int[] rows) {
        // Viewed as [examples, everything else], the rows are gathered in one native
        // call; getRows would copy them one at a time, about ten times slower.
        INDArray flat = a.rank() == 2 ? a : a.reshape('c', a.size(0), -1);
        INDArray picked = Nd4j.pullRows(flat, 1, rows);
        if (a.rank() == 2) {
            return picked;
        }
        long[] shape = a.shape().clone();
        shape[0] = rows.length;
        return picked.reshape('c', shape);
    }

    private static INDArray rowRange(INDArray a, int from, int to) {
        INDArrayIndex[] idx = new INDArrayIndex[a.rank()];
        idx[0] = NDArrayIndex.interval(from, to);
        for (int d = 1; d < idx.length; d++) {
            idx[d] = NDArrayIndex.all();
        }
        return a.get(idx);
    }

    @Override
    public void reset() {
        cursor = 0;
        if (shuffle) {
            for (int i = rows - 1; i > 0; i--) {
                int j = random.nextInt(i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
    }

    @Override
    public int inputColumns() {
        return (int) features.size(1);
    }

    @Override
    public int totalOutcomes() {
        return (int) labels.size(1);
    }

    @Override
    public boolean resetSupported() {
        return true;
    }

    @Override
    public boolean asyncSupported() {
        return false;
    }

    @Override
    public int batch() {
        return batchSize;
    }

    @Override
    public void setPreProcessor(DataSetPreProcessor preProcessor) {
        throw new UnsupportedOperationException("features are normalized once, before fit");
    }

    @Override
    public DataSetPreProcessor getPreProcessor() {
        return null;
    }

    @Override
    public List<String> getLabels() {
        return null;
    }
}
