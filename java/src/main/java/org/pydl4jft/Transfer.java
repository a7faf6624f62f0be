package org.pydl4jft;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.api.Trainable;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.dropout.Dropout;
import org.deeplearning4j.nn.conf.graph.FrozenVertex;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.conf.layers.BaseRecurrentLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.conf.layers.misc.FrozenLayer;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToRnnPreProcessor;
import org.deeplearning4j.nn.conf.preprocessor.RnnToFeedForwardPreProcessor;
import org.deeplearning4j.nn.conf.layers.misc.FrozenLayerWithBackprop;
import org.deeplearning4j.nn.conf.layers.recurrent.Bidirectional;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.transferlearning.FineTuneConfiguration;
import org.deeplearning4j.nn.transferlearning.TransferLearning;
import org.deeplearning4j.nn.updater.BaseMultiLayerUpdater;
import org.deeplearning4j.nn.updater.UpdaterBlock;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.AMSGrad;
import org.nd4j.linalg.learning.config.AdaGrad;
import org.nd4j.linalg.learning.config.AdaMax;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Nadam;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.learning.config.RmsProp;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.learning.regularization.Regularization;
import org.nd4j.linalg.learning.regularization.WeightDecay;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.linalg.schedule.ExponentialSchedule;
import org.nd4j.linalg.schedule.ISchedule;
import org.nd4j.linalg.schedule.MapSchedule;
import org.nd4j.linalg.schedule.ScheduleType;
import org.nd4j.linalg.schedule.StepSchedule;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.nd4j.shade.jackson.databind.node.ObjectNode;

/**
 * Transfer learning through DL4J's own TransferLearning builders: freezing, a new head,
 * fine-tune settings, unfreezing, per-layer rates and schedules.
 *
 * <p>Python checks every request and sends it here as one JSON document, already valid, so
 * that a rebuild is one call. A rebuilt network starts from the old one's parameters (DL4J
 * copies them) and from its optimizer state, copied here parameter by parameter wherever
 * the layer and the updater are unchanged: DL4J's builders start it at zero, even for a
 * rebuild that changes nothing.
 */
public final class Transfer {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Transfer() {}

    /**
     * A new network built from {@code model} as {@code specJson} asks: keys
     * {@code fineTune}, {@code removeTop}, {@code add} (dense layers), {@code head},
     * {@code freezeUpTo} (MultiLayerNetwork) or {@code freeze} (graph vertex names).
     */
    public static Model rebuild(Model model, String specJson) throws Exception {
        JsonNode spec = JSON.readTree(specJson);
        // DL4J's builders need fine-tune settings to add a layer (else a
        // NullPointerException); empty ones change nothing.
        FineTuneConfiguration fineTune = spec.hasNonNull("fineTune")
                ? fineTune(spec.get("fineTune"))
                : spec.path("removeTop").asInt(0) > 0
                        ? new FineTuneConfiguration.Builder().build() : null;
        Set<String> replaced = new HashSet<>();
        JsonNode seed = spec.path("fineTune").path("seed");
        if (seed.isNumber()) {
            // New layers draw their initial weights from ND4J's global generator: seed
            // it, or they depend on whatever ran before in this JVM.
            Nd4j.getRandom().setSeed(Examples.nd4jSeed(seed.asLong()));
        }
        Model built = model instanceof MultiLayerNetwork
                ? rebuild((MultiLayerNetwork) model, spec, fineTune, replaced)
                : rebuild((ComputationGraph) model, spec, fineTune, replaced);
        if (spec.path("fineTune").hasNonNull("weightDecay")) {
            setWeightDecay(built, spec.get("fineTune").get("weightDecay").asDouble());
        }
        separateUpdaters(built);
        copyUpdaterState(model, built, replaced);
        setCounters(built, iterations(model), epochs(model));
        return built;
    }

    private static MultiLayerNetwork rebuild(MultiLayerNetwork net, JsonNode spec,
            FineTuneConfiguration fineTune, Set<String> replaced) {
        TransferLearning.Builder b = new TransferLearning.Builder(net);
        if (fineTune != null) {
            b.fineTuneConfiguration(fineTune);
        }
        int removeTop = spec.path("removeTop").asInt(0);
        if (removeTop > 0) {
            MultiLayerConfiguration conf = net.getLayerWiseConfigurations();
            int n = net.getnLayers();
            int lowest = n - removeTop;
            for (int i = lowest; i < n; i++) {
                replaced.add(conf.getConf(i).getLayer().getLayerName());
            }
            Layer lowestLayer = unwrapFrozen(conf.getConf(lowest).getLayer());
            long nIn = nIn(lowestLayer);
            InputPreProcessor pre = conf.getInputPreProcess(lowest);
            RNNFormat sequence = pre == null ? sequenceFormat(lowestLayer) : null;
            ((ObjectNode) spec).put("sequence", sequence == null ? null : sequence.name());
            b.removeLayersFromOutput(removeTop);
            int index = lowest;
            for (JsonNode d : spec.path("add")) {
                b.addLayer(dense(d, nIn));
                if (sequence != null && index == lowest) {
                    b.setInputPreProcessor(index, new RnnToFeedForwardPreProcessor(sequence));
                }
                nIn = d.get("nOut").asLong();
                index++;
            }
            b.addLayer(output(spec.get("head"), nIn, sequence));
            if (sequence != null && index > lowest) {
                b.setInputPreProcessor(index, new FeedForwardToRnnPreProcessor(sequence));
            }
            if (pre != null) {
                b.setInputPreProcessor(lowest, pre.clone());
            }
            for (JsonNode d : spec.path("add")) {
                replaced.add(d.get("name").asText());
            }
            replaced.add(spec.get("head").get("name").asText());
        }
        int freezeUpTo = spec.path("freezeUpTo").asInt(-1);
        if (freezeUpTo >= 0) {
            b.setFeatureExtractor(freezeUpTo);
        }
        MultiLayerNetwork built = b.build();
        setSequenceFormat(built, spec);
        return built;
    }

    private static ComputationGraph rebuild(ComputationGraph graph, JsonNode spec,
            FineTuneConfiguration fineTune, Set<String> replaced) {
        TransferLearning.GraphBuilder b = new TransferLearning.GraphBuilder(graph);
        if (fineTune != null) {
            b.fineTuneConfiguration(fineTune);
        }
        int removeTop = spec.path("removeTop").asInt(0);
        if (removeTop > 0) {
            ComputationGraphConfiguration conf = graph.getConfiguration();
            // Python checked that the top layers form a chain of single-input layers.
            List<String> chain = new ArrayList<>();
            String current = conf.getNetworkOutputs().get(0);
            for (int k = 0; k < removeTop; k++) {
                chain.add(current);
                if (k < removeTop - 1) {
                    current = conf.getVertexInputs().get(current).get(0);
                }
            }
            LayerVertex lowest = (LayerVertex) conf.getVertices().get(current);
            String[] inputs = conf.getVertexInputs().get(current).toArray(new String[0]);
            Layer lowestLayer = unwrapFrozen(lowest.getLayerConf().getLayer());
            long nIn = nIn(lowestLayer);
            InputPreProcessor pre = lowest.getPreProcessor();
            RNNFormat sequence = pre == null ? sequenceFormat(lowestLayer) : null;
            ((ObjectNode) spec).put("sequence", sequence == null ? null : sequence.name());
            if (sequence != null && spec.path("add").size() > 0) {
                pre = new RnnToFeedForwardPreProcessor(sequence);
            }
            for (String name : chain) {
                b.removeVertexAndConnections(name);
                replaced.add(name);
            }
            for (JsonNode d : spec.path("add")) {
                String name = d.get("name").asText();
                if (pre != null) {
                    b.addLayer(name, dense(d, nIn), pre.clone(), inputs);
                    pre = null;
                } else {
                    b.addLayer(name, dense(d, nIn), inputs);
                }
                inputs = new String[] {name};
                nIn = d.get("nOut").asLong();
                replaced.add(name);
            }
            JsonNode head = spec.get("head");
            String name = head.get("name").asText();
            if (sequence != null && spec.path("add").size() > 0) {
                pre = new FeedForwardToRnnPreProcessor(sequence);
            }
            if (pre != null) {
                b.addLayer(name, output(head, nIn, sequence), pre.clone(), inputs);
            } else {
                b.addLayer(name, output(head, nIn, sequence), inputs);
            }
            b.setOutputs(name);
            replaced.add(name);
        }
        if (spec.has("freeze")) {
            List<String> names = new ArrayList<>();
            spec.get("freeze").forEach(n -> names.add(n.asText()));
            b.setFeatureExtractor(names.toArray(new String[0]));
        }
        ComputationGraph built = b.build();
        setSequenceFormat(built, spec);
        return built;
    }

    /**
     * Gives every layer its own updater object. FineTuneConfiguration hands one IUpdater
     * instance to all layers, so DL4J's setLearningRate(layer, rate) on one of them would
     * change them all. The optimizer is then rebuilt from the layers (its state is copied
     * in afterwards).
     */
    private static void separateUpdaters(Model model) {
        List<Layer> layers = new ArrayList<>();
        if (model instanceof MultiLayerNetwork) {
            for (NeuralNetConfiguration c
                    : ((MultiLayerNetwork) model).getLayerWiseConfigurations().getConfs()) {
                layers.add(unwrapFrozen(c.getLayer()));
            }
        } else {
            for (GraphVertex v
                    : ((ComputationGraph) model).getConfiguration().getVertices().values()) {
                if (v instanceof LayerVertex) {
                    layers.add(unwrapFrozen(((LayerVertex) v).getLayerConf().getLayer()));
                }
            }
        }
        for (Layer l : layers) {
            if (l instanceof BaseLayer) {
                BaseLayer b = (BaseLayer) l;
                if (b.getIUpdater() != null) {
                    b.setIUpdater(b.getIUpdater().clone());
                }
                if (b.getBiasUpdater() != null) {
                    b.setBiasUpdater(b.getBiasUpdater().clone());
                }
            }
        }
        if (model instanceof MultiLayerNetwork) {
            ((MultiLayerNetwork) model).setUpdater(null);
        } else {
            ((ComputationGraph) model).setUpdater(null);
        }
    }

    private static DenseLayer dense(JsonNode d, long nIn) {
        DenseLayer.Builder b = new DenseLayer.Builder().nIn(nIn).nOut(d.get("nOut").asLong())
                .activation(Activation.valueOf(d.get("activation").asText()))
                .weightInit(WeightInit.valueOf(d.get("weightInit").asText()));
        b.name(d.get("name").asText());
        if (d.path("dropout").asDouble(0) > 0) {
            b.dropOut(1 - d.get("dropout").asDouble());
        }
        return b.build();
    }

    /**
     * The new head: a dense OutputLayer, or, where the layers below hand it a sequence
     * ({@code sequence} not null), an RnnOutputLayer that classifies every time step in
     * that data format.
     */
    private static BaseOutputLayer output(JsonNode head, long nIn, RNNFormat sequence) {
        LossFunctions.LossFunction loss =
                LossFunctions.LossFunction.valueOf(head.get("loss").asText());
        BaseOutputLayer.Builder<?> b = sequence == null
                ? new OutputLayer.Builder(loss)
                : new RnnOutputLayer.Builder(loss).dataFormat(sequence);
        b.name(head.get("name").asText());
        b.nIn(nIn);
        b.nOut(head.get("nOut").asLong());
        b.activation(Activation.valueOf(head.get("activation").asText()));
        b.weightInit(WeightInit.valueOf(head.get("weightInit").asText()));
        return (BaseOutputLayer) b.build();
    }

    /**
     * Sets the data format of a new RNN head again after the build: TransferLearning
     * drops the one its builder was given, and an RnnOutputLayer without one compares
     * the wrong axes of its labels.
     */
    private static void setSequenceFormat(Model built, JsonNode spec) {
        if (!spec.hasNonNull("sequence")) {
            return;
        }
        RNNFormat format = RNNFormat.valueOf(spec.get("sequence").asText());
        String head = spec.get("head").get("name").asText();
        for (Layer l : configuredLayers(built)) {
            if (l instanceof RnnOutputLayer && head.equals(l.getLayerName())) {
                ((RnnOutputLayer) l).setRnnDataFormat(format);
            }
        }
    }

    /** The input size of the lowest removed layer, which the new layers take over. */
    private static long nIn(Layer layer) {
        if (layer instanceof Bidirectional) {
            layer = ((Bidirectional) layer).getFwd();
        }
        if (layer instanceof FeedForwardLayer) {
            return ((FeedForwardLayer) layer).getNIn();
        }
        throw new IllegalArgumentException("layer " + layer.getLayerName() + " ("
                + layer.getClass().getSimpleName() + ") has no input size");
    }

    /**
     * The data format of the sequence a removed layer took as input, or null where it
     * took one row per example: recurrent layers and RNN output layers take sequences.
     */
    private static RNNFormat sequenceFormat(Layer layer) {
        RNNFormat format;
        if (layer instanceof RnnOutputLayer) {
            format = ((RnnOutputLayer) layer).getRnnDataFormat();
        } else if (layer instanceof Bidirectional) {
            format = ((Bidirectional) layer).getRNNDataFormat();
        } else if (layer instanceof BaseRecurrentLayer) {
            format = ((BaseRecurrentLayer) layer).getRnnDataFormat();
        } else {
            return null;
        }
        // Older checkpoints leave the format unset, meaning DL4J's default NCW; an
        // RnnOutputLayer built with none compares the wrong axes of its labels.
        return format == null ? RNNFormat.NCW : format;
    }

    /**
     * Gives every trainable layer exactly one weight decay of {@code coefficient} (none
     * at 0), replacing what FineTuneConfiguration left. In 1.0.0-M2.1 it puts its
     * WeightDecay on a layer twice (applyToNeuralNetConfiguration sets the list, then
     * its validation adds the same entries again), so the decay applied per step
     * doubled. Frozen layers are left alone.
     */
    private static void setWeightDecay(Model model, double coefficient) {
        for (Layer l : configuredLayers(model)) {
            if (!(l instanceof BaseLayer)) {
                continue;
            }
            BaseLayer b = (BaseLayer) l;
            List<Regularization> list = new ArrayList<>();
            if (b.getRegularization() != null) {
                for (Regularization r : b.getRegularization()) {
                    if (!(r instanceof WeightDecay)) {
                        list.add(r);
                    }
                }
            }
            if (coefficient > 0) {
                list.add(new WeightDecay(coefficient, true));
            }
            b.setRegularization(list);
        }
    }

    /** The layer configurations of a network, frozen ones still wrapped. */
    private static List<Layer> configuredLayers(Model model) {
        List<Layer> layers = new ArrayList<>();
        if (model instanceof MultiLayerNetwork) {
            for (NeuralNetConfiguration c
                    : ((MultiLayerNetwork) model).getLayerWiseConfigurations().getConfs()) {
                layers.add(c.getLayer());
            }
        } else {
            for (GraphVertex v
                    : ((ComputationGraph) model).getConfiguration().getVertices().values()) {
                if (v instanceof LayerVertex) {
                    layers.add(((LayerVertex) v).getLayerConf().getLayer());
                }
            }
        }
        return layers;
    }

    /** A DL4J FineTuneConfiguration from the checked settings. */
    static FineTuneConfiguration fineTune(JsonNode f) {
        FineTuneConfiguration.Builder b = new FineTuneConfiguration.Builder();
        if (f.hasNonNull("updater")) {
            b.updater(updater(f.get("updater")));
        }
        if (f.hasNonNull("l2")) {
            b.l2(f.get("l2").asDouble());
        }
        if (f.hasNonNull("l1")) {
            b.l1(f.get("l1").asDouble());
        }
        if (f.hasNonNull("weightDecay")) {
            b.weightDecay(f.get("weightDecay").asDouble());
        }
        if (f.hasNonNull("dropout")) {
            double drop = f.get("dropout").asDouble();
            // DL4J's dropOut takes the probability of keeping an input; null clears it.
            b.dropout(drop == 0 ? null : new Dropout(1 - drop));
        }
        if (f.hasNonNull("seed")) {
            b.seed(Examples.nd4jSeed(f.get("seed").asLong()));
        }
        if (f.hasNonNull("activation")) {
            b.activation(Activation.valueOf(f.get("activation").asText()));
        }
        if (f.hasNonNull("weightInit")) {
            b.weightInit(WeightInit.valueOf(f.get("weightInit").asText()));
        }
        return b.build();
    }

    static IUpdater updater(JsonNode u) {
        String type = u.get("type").asText();
        ISchedule schedule = u.hasNonNull("schedule") ? schedule(u.get("schedule")) : null;
        double lr = u.path("lr").asDouble(Double.NaN);
        switch (type) {
            case "sgd":
                return schedule != null ? new Sgd(schedule) : new Sgd(lr);
            case "adam":
                return schedule != null ? new Adam(schedule) : new Adam(lr);
            case "nesterovs":
                double momentum = u.path("momentum").asDouble(Nesterovs.DEFAULT_NESTEROV_MOMENTUM);
                return schedule != null ? new Nesterovs(schedule, momentum)
                        : new Nesterovs(lr, momentum);
            case "rmsprop":
                return schedule != null ? new RmsProp(schedule) : new RmsProp(lr);
            case "adagrad":
                return schedule != null ? new AdaGrad(schedule) : new AdaGrad(lr);
            case "adamax":
                return schedule != null ? new AdaMax(schedule) : new AdaMax(lr);
            case "nadam":
                return schedule != null ? new Nadam(schedule) : new Nadam(lr);
            case "amsgrad":
                return schedule != null ? new AMSGrad(schedule) : new AMSGrad(lr);
            case "noop":
                return new NoOp();
            default:
                throw new IllegalArgumentException("unknown updater " + type);
        }
    }

    static ISchedule schedule(JsonNode s) {
        ScheduleType unit = ScheduleType.valueOf(s.get("unit").asText());
        switch (s.get("type").asText()) {
            case "step":
                return new StepSchedule(unit, s.get("initial").asDouble(),
                        s.get("decay").asDouble(), s.get("step").asDouble());
            case "exponential":
                return new ExponentialSchedule(unit, s.get("initial").asDouble(),
                        s.get("gamma").asDouble());
            case "map":
                Map<Integer, Double> values = new HashMap<>();
                Iterator<Map.Entry<String, JsonNode>> it = s.get("values").fields();
                while (it.hasNext()) {
                    Map.Entry<String, JsonNode> e = it.next();
                    values.put(Integer.parseInt(e.getKey()), e.getValue().asDouble());
                }
                return new MapSchedule(unit, values);
            default:
                throw new IllegalArgumentException("unknown schedule " + s.get("type"));
        }
    }

    /**
     * The same network with every frozen layer trainable again: parameters, counters and
     * the optimizer state of layers that were already training carry over; layers that
     * were frozen start with fresh optimizer state (they had none).
     */
    public static Model unfreeze(Model model) {
        Model out;
        if (model instanceof MultiLayerNetwork) {
            MultiLayerNetwork net = (MultiLayerNetwork) model;
            MultiLayerConfiguration conf = net.getLayerWiseConfigurations().clone();
            for (NeuralNetConfiguration c : conf.getConfs()) {
                c.setLayer(unwrapFrozen(c.getLayer()));
            }
            MultiLayerNetwork unfrozen = new MultiLayerNetwork(conf);
            unfrozen.init(net.params().dup(), false);
            out = unfrozen;
        } else {
            ComputationGraph graph = (ComputationGraph) model;
            ComputationGraphConfiguration conf = graph.getConfiguration().clone();
            // Vertices without parameters (merge, element-wise, ...) are frozen by
            // wrapping them in a FrozenVertex, which passes no gradient down: unwrap
            // them too, or the layers below get none in the second stage.
            for (Map.Entry<String, GraphVertex> e : conf.getVertices().entrySet()) {
                GraphVertex v = e.getValue();
                while (v instanceof FrozenVertex) {
                    v = ((FrozenVertex) v).getUnderlying();
                }
                e.setValue(v);
                if (v instanceof LayerVertex) {
                    NeuralNetConfiguration c = ((LayerVertex) v).getLayerConf();
                    c.setLayer(unwrapFrozen(c.getLayer()));
                }
            }
            ComputationGraph unfrozen = new ComputationGraph(conf);
            unfrozen.init(graph.params().dup(), false);
            out = unfrozen;
        }
        copyUpdaterState(model, out, new HashSet<>());
        setCounters(out, iterations(model), epochs(model));
        return out;
    }

    private static Layer unwrapFrozen(Layer layer) {
        while (true) {
            if (layer instanceof FrozenLayer) {
                layer = ((FrozenLayer) layer).getLayer();
            } else if (layer instanceof FrozenLayerWithBackprop) {
                layer = ((FrozenLayerWithBackprop) layer).getUnderlying();
            } else {
                return layer;
            }
        }
    }

    /**
     * Per layer, in order: name, frozen, updater, the learning rate that updater gives at
     * ({@code iteration}, {@code epoch}), regularization, dropout, activation; as JSON.
     */
    public static String layerStates(Model model, int iteration, int epoch) throws Exception {
        List<Map<String, Object>> rows = new ArrayList<>();
        if (model instanceof MultiLayerNetwork) {
            MultiLayerNetwork net = (MultiLayerNetwork) model;
            for (int i = 0; i < net.getnLayers(); i++) {
                Layer l = net.getLayerWiseConfigurations().getConf(i).getLayer();
                rows.add(state(l, net.getLayer(i).numParams(), iteration, epoch));
            }
        } else {
            ComputationGraph graph = (ComputationGraph) model;
            Map<String, GraphVertex> vertices = graph.getConfiguration().getVertices();
            for (int idx : graph.topologicalSortOrder()) {
                String name = graph.getVertices()[idx].getVertexName();
                GraphVertex v = vertices.get(name);
                if (v instanceof LayerVertex) {
                    Layer l = ((LayerVertex) v).getLayerConf().getLayer();
                    Map<String, Object> row =
                            state(l, graph.getVertex(name).numParams(), iteration, epoch);
                    row.put("name", name);
                    rows.add(row);
                }
            }
        }
        return JSON.writeValueAsString(rows);
    }

    private static Map<String, Object> state(Layer l, long params, int iteration, int epoch) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("name", l.getLayerName());
        boolean frozen = l instanceof FrozenLayer || l instanceof FrozenLayerWithBackprop;
        row.put("frozen", frozen);
        row.put("params", params);
        Layer inner = unwrapFrozen(l);
        row.put("type", inner.getClass().getSimpleName());
        if (params > 0) {
            IUpdater u = l.getUpdaterByParam(firstParam(inner));
            row.put("updater", u == null ? null : u.getClass().getSimpleName());
            row.put("learning_rate",
                    u != null && u.hasLearningRate() ? u.getLearningRate(iteration, epoch) : null);
            List<Regularization> reg = l.getRegularizationByParam(firstParam(inner));
            List<String> regs = new ArrayList<>();
            if (reg != null) {
                for (Regularization r : reg) {
                    regs.add(r.toString());
                }
            }
            row.put("regularization", regs);
        }
        row.put("dropout", inner.getIDropout() == null ? null : inner.getIDropout().toString());
        if (inner instanceof BaseLayer) {
            BaseLayer bl = (BaseLayer) inner;
            row.put("activation", bl.getActivationFn() == null ? null
                    : bl.getActivationFn().toString());
            row.put("weight_init", bl.getWeightInitFn() == null ? null
                    : bl.getWeightInitFn().getClass().getSimpleName());
        }
        return row;
    }

    private static String firstParam(Layer inner) {
        List<String> keys = inner.initializer().paramKeys(inner);
        return keys.isEmpty() ? "W" : keys.get(0);
    }

    /** Sets one layer's rate (index for a MultiLayerNetwork, name for a graph). */
    public static void setRate(Model model, String layer, int index, double rate,
            String scheduleJson) throws Exception {
        ISchedule schedule = scheduleJson == null ? null : schedule(JSON.readTree(scheduleJson));
        if (model instanceof MultiLayerNetwork) {
            MultiLayerNetwork net = (MultiLayerNetwork) model;
            if (schedule != null) {
                net.setLearningRate(index, schedule);
            } else {
                net.setLearningRate(index, rate);
            }
        } else {
            ComputationGraph graph = (ComputationGraph) model;
            if (schedule != null) {
                graph.setLearningRate(layer, schedule);
            } else {
                graph.setLearningRate(layer, rate);
            }
        }
    }

    public static int iterations(Model model) {
        return model instanceof MultiLayerNetwork
                ? ((MultiLayerNetwork) model).getLayerWiseConfigurations().getIterationCount()
                : ((ComputationGraph) model).getConfiguration().getIterationCount();
    }

    public static int epochs(Model model) {
        return model instanceof MultiLayerNetwork
                ? ((MultiLayerNetwork) model).getLayerWiseConfigurations().getEpochCount()
                : ((ComputationGraph) model).getConfiguration().getEpochCount();
    }

    public static void setCounters(Model model, int iteration, int epoch) {
        if (model instanceof MultiLayerNetwork) {
            MultiLayerConfiguration c = ((MultiLayerNetwork) model).getLayerWiseConfigurations();
            c.setIterationCount(iteration);
            c.setEpochCount(epoch);
        } else {
            ComputationGraphConfiguration c = ((ComputationGraph) model).getConfiguration();
            c.setIterationCount(iteration);
            c.setEpochCount(epoch);
        }
    }

    /** The network's output in training mode (dropout applied), for one input array. */
    public static INDArray trainModeOutput(Model model, INDArray features) {
        if (model instanceof MultiLayerNetwork) {
            return ((MultiLayerNetwork) model).output(features, true);
        }
        return ((ComputationGraph) model).output(true, features)[0];
    }

    /** The gradient DL4J computes for one minibatch, flat, in parameter order. */
    public static INDArray gradient(Model model, INDArray features, INDArray labels) {
        if (model instanceof MultiLayerNetwork) {
            MultiLayerNetwork net = (MultiLayerNetwork) model;
            net.setInput(features);
            net.setLabels(labels);
        } else {
            ComputationGraph graph = (ComputationGraph) model;
            graph.setInputs(features);
            graph.setLabels(labels);
        }
        model.computeGradientAndScore(LayerWorkspaceMgr.noWorkspaces());
        INDArray g = model.gradient().gradient().dup();
        model.clear();
        return g;
    }

    /** Each parameter array, copied, keyed "layer/param" (W, b, ...). */
    public static Map<String, INDArray> parameters(Model model) {
        Map<String, INDArray> out = new LinkedHashMap<>();
        if (model instanceof MultiLayerNetwork) {
            MultiLayerNetwork net = (MultiLayerNetwork) model;
            for (int i = 0; i < net.getnLayers(); i++) {
                String name = net.getLayerWiseConfigurations().getConf(i).getLayer()
                        .getLayerName();
                for (Map.Entry<String, INDArray> e : net.getLayer(i).paramTable().entrySet()) {
                    out.put(name + "/" + e.getKey(), e.getValue().dup());
                }
            }
        } else {
            ComputationGraph graph = (ComputationGraph) model;
            for (org.deeplearning4j.nn.api.Layer l : graph.getLayers()) {
                String name = l.conf().getLayer().getLayerName();
                for (Map.Entry<String, INDArray> e : l.paramTable().entrySet()) {
                    out.put(name + "/" + e.getKey(), e.getValue().dup());
                }
            }
        }
        return out;
    }

    /**
     * Optimizer state of {@code from}, per layer, parameter and state key, written into the
     * matching place of {@code to} wherever both have it with the same size and the layer
     * is not in {@code skip}. Returns the number of values copied.
     */
    public static long copyUpdaterState(Model from, Model to, Set<String> skip) {
        Map<String, INDArray> source = new HashMap<>();
        for (Slot s : slots(from)) {
            source.put(s.key, s.values.dup());
        }
        long copied = 0;
        for (Slot s : slots(to)) {
            INDArray old = source.get(s.key);
            if (old != null && old.length() == s.values.length()
                    && !skip.contains(s.layer)) {
                s.values.assign(old);
                copied += old.length();
            }
        }
        return copied;
    }

    /** The optimizer state, copied, keyed "layer/param/updater/state" (Adam's M, V). */
    public static Map<String, INDArray> updaterState(Model model) {
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (Slot s : slots(model)) {
            out.put(s.key, s.values.dup());
        }
        return out;
    }

    /** Per layer and parameter: the named updater state values, as views. */
    private static List<Slot> slots(Model model) {
        BaseMultiLayerUpdater<?> updater = model instanceof MultiLayerNetwork
                ? (BaseMultiLayerUpdater<?>) ((MultiLayerNetwork) model).getUpdater(true)
                : ((ComputationGraph) model).getUpdater(true);
        List<Slot> out = new ArrayList<>();
        for (UpdaterBlock block : updater.getUpdaterBlocks()) {
            if (block.getGradientUpdater() == null) {
                continue;
            }
            Map<String, INDArray> state = block.getGradientUpdater().getState();
            if (state == null) {
                continue;
            }
            for (UpdaterBlock.ParamState p : block.getLayersAndVariablesInBlock()) {
                long from = p.getParamOffsetStart() - block.getParamOffsetStart();
                long to = p.getParamOffsetEnd() - block.getParamOffsetStart();
                String layer = layerName(p.getLayer());
                String kind = block.getGradientUpdater().getConfig().getClass().getSimpleName();
                for (Map.Entry<String, INDArray> e : state.entrySet()) {
                    INDArray flat = e.getValue().reshape(e.getValue().length());
                    out.add(new Slot(layer, layer + "/" + p.getParamName() + "/" + kind + "/"
                            + e.getKey(), flat.get(NDArrayIndex.interval(from, to))));
                }
            }
        }
        return out;
    }

    private static String layerName(Trainable t) {
        return t.getConfig().getLayerName();
    }

    private static final class Slot {
        final String layer;
        final String key;
        final INDArray values;

        Slot(String layer, String key, INDArray values) {
            this.layer = layer;
            this.key = key;
            this.values = values;
        }
    }
}
