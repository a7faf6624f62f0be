package org.pydl4jft;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Moves dense arrays between numpy memory (seen from Java as a direct ByteBuffer) and ND4J.
 *
 * <p>Each direction is exactly one memcpy: Python hands over a view of its own buffer, and
 * the bytes go straight into (or out of) the INDArray's off-heap storage.
 */
public final class ArrayBridge {
    private ArrayBridge() {}

    /** A new C-ordered INDArray of {@code dtype} holding a copy of {@code src}'s bytes. */
    public static INDArray fromBuffer(ByteBuffer src, long[] shape, String dtype) {
        DataType type = DataType.valueOf(dtype);
        INDArray array = Nd4j.createUninitialized(type, shape, 'c');
        long bytes = array.length() * type.width();
        if (src.remaining() != bytes) {
            throw new IllegalArgumentException(
                    "buffer holds " + src.remaining() + " bytes, shape needs " + bytes);
        }
        ByteBuffer dst = array.data().asNio().order(ByteOrder.nativeOrder());
        dst.clear();
        dst.put(src.duplicate().order(ByteOrder.nativeOrder()));
        return array;
    }

    /**
     * Copies {@code src}'s bytes into {@code dst}, an existing dense C-ordered INDArray of
     * exactly that size (a target reused between calls: no allocation).
     */
    public static void copyFrom(ByteBuffer src, INDArray dst) {
        if (!isDenseC(dst)) {
            throw new IllegalArgumentException("target is not a dense C-ordered array");
        }
        long bytes = dst.length() * dst.dataType().width();
        if (src.remaining() != bytes) {
            throw new IllegalArgumentException(
                    "buffer holds " + src.remaining() + " bytes, target needs " + bytes);
        }
        ByteBuffer to = dst.data().asNio().order(ByteOrder.nativeOrder());
        to.clear();
        to.put(src.duplicate().order(ByteOrder.nativeOrder()));
    }

    /** Copies {@code src} in C order into {@code dst}, which must be exactly its size. */
    public static void copyInto(INDArray src, ByteBuffer dst) {
        INDArray dense = isDenseC(src) ? src : src.dup('c');
        long bytes = dense.length() * dense.dataType().width();
        if (dst.remaining() != bytes) {
            throw new IllegalArgumentException(
                    "target holds " + dst.remaining() + " bytes, array needs " + bytes);
        }
        ByteBuffer from = dense.data().asNio().order(ByteOrder.nativeOrder());
        from.clear();
        from.limit((int) bytes);
        dst.duplicate().order(ByteOrder.nativeOrder()).put(from);
    }

    private static boolean isDenseC(INDArray a) {
        return a.ordering() == 'c'
                && a.offset() == 0
                && a.data().length() == a.length()
                && Shape.hasDefaultStridesForShape(a);
    }
}
