package org.pydl4jft;

import java.io.ObjectInputFilter;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A process-wide Java deserialization filter: every ObjectInputStream in the JVM refuses to
 * create objects unless the current thread is inside {@link #trusted}, which py_dl4j_ft
 * enters only when the user has said that a file is trusted.
 *
 * <p>DL4J reads some zip entries (preprocessor.bin, objects/, the old updater.bin) with plain
 * Java deserialization, which lets a crafted file run code. The Python side refuses such
 * files first; this filter is the second line, for any path that check does not see.
 */
public final class SafeDeserialization {
    private static final ThreadLocal<Integer> TRUST = ThreadLocal.withInitial(() -> 0);
    private static final AtomicLong REJECTED = new AtomicLong();
    private static volatile boolean installed;

    private SafeDeserialization() {}

    /** Installs the filter; a second call is a no-op. Fails if another filter is set. */
    public static synchronized void install() {
        if (installed) {
            return;
        }
        ObjectInputFilter.Config.setSerialFilter(SafeDeserialization::check);
        installed = true;
    }

    /** True once {@link #install} has run in this JVM. */
    public static boolean isInstalled() {
        return installed && ObjectInputFilter.Config.getSerialFilter() != null;
    }

    /** How many deserializations the filter has refused since the JVM started. */
    public static long rejectedCount() {
        return REJECTED.get();
    }

    /** Runs {@code work} with deserialization allowed on this thread only. */
    public static <T> T trusted(Callable<T> work) throws Exception {
        TRUST.set(TRUST.get() + 1);
        try {
            return work.call();
        } finally {
            TRUST.set(TRUST.get() - 1);
        }
    }

    /** Allows (true) or forbids again (false) deserialization on this thread. */
    public static void setTrusted(boolean trust) {
        TRUST.set(Math.max(0, TRUST.get() + (trust ? 1 : -1)));
    }

    private static ObjectInputFilter.Status check(ObjectInputFilter.FilterInfo info) {
        if (TRUST.get() > 0) {
            return ObjectInputFilter.Status.UNDECIDED;
        }
        // A call without a class only reports depth or size; every class, arrays
        // included, is refused, so no object can be created.
        if (info.serialClass() == null) {
            return ObjectInputFilter.Status.UNDECIDED;
        }
        REJECTED.incrementAndGet();
        return ObjectInputFilter.Status.REJECTED;
    }
}
