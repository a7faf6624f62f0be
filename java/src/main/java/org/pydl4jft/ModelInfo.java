package org.pydl4jft;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.conf.layers.BaseRecurrentLayer;
import org.deeplearning4j.nn.conf.layers.Convolution1DLayer;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingLayer;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.deeplearning4j.nn.conf.layers.RnnLossLayer;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.conf.layers.CnnLossLayer;
import org.deeplearning4j.nn.conf.layers.misc.FrozenLayer;
import org.deeplearning4j.nn.conf.layers.misc.FrozenLayerWithBackprop;
import org.deeplearning4j.nn.conf.layers.recurrent.Bidirectional;
import org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep;
import org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.jackson.databind.ObjectMapper;

/**
 * Describes a loaded network as JSON: layers, sizes, activations, losses, updaters, the
 * learning rate in effect per layer, and what input and output the network expects.
 *
 * <p>The input description lets Python check shapes before any data crosses: rank, the axis
 * that holds features or channels, and its size (-1 where the configuration does not say).
 */
public final class ModelInfo {
    private ModelInfo() {}

    public static String describe(Model model) throws Exception {
        Map<String, Object> info = new LinkedHashMap<>();
        List<Map<String, Object>> layers = new ArrayList<>();
        if (model instanceof MultiLayerNetwork) {
            MultiLayerNetwork net = (MultiLayerNetwork) model;
            MultiLayerConfiguration conf = net.getLayerWiseConfigurations();
            info.put("kind", "MultiLayerNetwork");
            int n = net.getnLayers();
            for (int i = 0; i < n; i++) {
                Layer layer = conf.getConf(i).getLayer();
                Map<String, Object> row = layerRow(layer, conf.getInputPreProcess(i));
                String name = layer.getLayerName();
                row.put("name", name == null ? String.valueOf(i) : name);
                row.put("params", net.getLayer(i).numParams());
                int index = i;
                row.put("learning_rate", rate(() -> net.getLearningRate(index)));
                markFrozen(row, layer);
                layers.add(row);
            }
            Layer first = conf.getConf(0).getLayer();
            info.put("inputs", List.of(inputSpec(first, conf.getInputPreProcess(0))));
            info.put("outputs", List.of(outputSpec(conf.getConf(n - 1).getLayer())));
            info.put("iteration_count", conf.getIterationCount());
            info.put("epoch_count", conf.getEpochCount());
        } else {
            ComputationGraph graph = (ComputationGraph) model;
            Map<String, GraphVertex> vertices = graph.getConfiguration().getVertices();
            Map<String, List<String>> vertexInputs = graph.getConfiguration().getVertexInputs();
            info.put("kind", "ComputationGraph");
            for (int idx : graph.topologicalSortOrder()) {
                String name = graph.getVertices()[idx].getVertexName();
                GraphVertex v = vertices.get(name);
                Map<String, Object> row;
                if (v instanceof LayerVertex) {
                    LayerVertex lv = (LayerVertex) v;
                    row = layerRow(lv.getLayerConf().getLayer(), lv.getPreProcessor());
                    row.put("learning_rate", rate(() -> graph.getLearningRate(name)));
                    markFrozen(row, lv.getLayerConf().getLayer());
                } else if (v == null) {
                    row = new LinkedHashMap<>();
                    row.put("type", "Input");
                } else {
                    row = new LinkedHashMap<>();
                    row.put("type", v.getClass().getSimpleName());
                }
                row.put("name", name);
                row.put("params", graph.getVertex(name).numParams());
                row.put("inputs", vertexInputs.getOrDefault(name, List.of()));
                layers.add(row);
            }
            List<Object> inputs = new ArrayList<>();
            for (String in : graph.getConfiguration().getNetworkInputs()) {
                inputs.add(graphInputSpec(in, vertices, vertexInputs));
            }
            List<Object> outputs = new ArrayList<>();
            for (String out : graph.getConfiguration().getNetworkOutputs()) {
                GraphVertex v = vertices.get(out);
                outputs.add(v instanceof LayerVertex
                        ? outputSpec(((LayerVertex) v).getLayerConf().getLayer())
                        : Map.of("rank", -1, "size", -1, "loss", "", "activation", ""));
            }
            info.put("inputs", inputs);
            info.put("outputs", outputs);
            info.put("iteration_count", graph.getConfiguration().getIterationCount());
            info.put("epoch_count", graph.getConfiguration().getEpochCount());
        }
        info.put("layers", layers);
        info.put("num_params", model.numParams());
        INDArray params = model.params();
        info.put("data_type", params == null ? "FLOAT" : params.dataType().toString());
        return new ObjectMapper().writeValueAsString(info);
    }

    private interface RateGetter {
        Double get();
    }

    private static Double rate(RateGetter getter) {
        try {
            return getter.get();
        } catch (RuntimeException e) {
            // Layers without an updater of their own (pooling, activation) have no rate.
            return null;
        }
    }

    /** A frozen layer never updates: its wrapped layer's rate is not in effect. */
    private static void markFrozen(Map<String, Object> row, Layer layer) {
        boolean frozen = layer instanceof FrozenLayer;
        row.put("frozen", frozen);
        if (frozen) {
            row.put("learning_rate", null);
        }
    }

    private static Layer unwrap(Layer layer) {
        while (true) {
            if (layer instanceof FrozenLayer) {
                layer = ((FrozenLayer) layer).getLayer();
            } else if (layer instanceof FrozenLayerWithBackprop) {
                layer = ((FrozenLayerWithBackprop) layer).getUnderlying();
            } else if (layer instanceof LastTimeStep) {
                layer = ((LastTimeStep) layer).getUnderlying();
            } else {
                return layer;
            }
        }
    }

    private static Map<String, Object> layerRow(Layer wrapped, InputPreProcessor pre) {
        Map<String, Object> row = new LinkedHashMap<>();
        Layer layer = unwrap(wrapped);
        row.put("type", wrapped.getClass().getSimpleName());
        if (wrapped != layer) {
            row.put("wraps", layer.getClass().getSimpleName());
        }
        if (layer instanceof Bidirectional) {
            layer = ((Bidirectional) layer).getFwd();
        }
        if (layer instanceof FeedForwardLayer) {
            row.put("n_in", ((FeedForwardLayer) layer).getNIn());
            row.put("n_out", ((FeedForwardLayer) layer).getNOut());
        }
        if (layer instanceof BaseLayer) {
            BaseLayer base = (BaseLayer) layer;
            row.put("activation", base.getActivationFn() == null
                    ? null : base.getActivationFn().toString());
            row.put("updater", base.getIUpdater() == null
                    ? null : base.getIUpdater().getClass().getSimpleName());
        }
        String loss = lossName(layer);
        if (loss != null) {
            row.put("loss", loss);
        }
        if (pre != null) {
            row.put("preprocessor", pre.getClass().getSimpleName());
        }
        return row;
    }

    private static String lossName(Layer layer) {
        if (layer instanceof BaseOutputLayer && ((BaseOutputLayer) layer).getLossFn() != null) {
            return ((BaseOutputLayer) layer).getLossFn().getClass().getSimpleName();
        }
        if (layer instanceof LossLayer && ((LossLayer) layer).getLossFn() != null) {
            return ((LossLayer) layer).getLossFn().getClass().getSimpleName();
        }
        if (layer instanceof RnnLossLayer && ((RnnLossLayer) layer).getLossFn() != null) {
            return ((RnnLossLayer) layer).getLossFn().getClass().getSimpleName();
        }
        if (layer instanceof CnnLossLayer && ((CnnLossLayer) layer).getLossFn() != null) {
            return ((CnnLossLayer) layer).getLossFn().getClass().getSimpleName();
        }
        return null;
    }

    private static Map<String, Object> graphInputSpec(String input,
            Map<String, GraphVertex> vertices,
            Map<String, List<String>> vertexInputs) {
        // The first layer vertex that reads this input directly says what it must look like.
        for (Map.Entry<String, List<String>> e : vertexInputs.entrySet()) {
            GraphVertex v = vertices.get(e.getKey());
            if (e.getValue().contains(input) && v instanceof LayerVertex) {
                LayerVertex lv = (LayerVertex) v;
                Map<String, Object> spec =
                        inputSpec(lv.getLayerConf().getLayer(), lv.getPreProcessor());
                spec.put("name", input);
                return spec;
            }
        }
        Map<String, Object> spec = spec(-1, -1, -1, "");
        spec.put("name", input);
        return spec;
    }

    static Map<String, Object> inputSpec(Layer wrapped, InputPreProcessor pre) {
        Layer layer = unwrap(wrapped);
        if (pre instanceof FeedForwardToCnnPreProcessor) {
            FeedForwardToCnnPreProcessor p = (FeedForwardToCnnPreProcessor) pre;
            long flat = p.getInputHeight() * p.getInputWidth() * p.getNumChannels();
            Map<String, Object> s = spec(2, 1, flat, "NF");
            s.put("image", List.of(p.getNumChannels(), p.getInputHeight(), p.getInputWidth()));
            return s;
        }
        if (pre instanceof CnnToFeedForwardPreProcessor) {
            CnnToFeedForwardPreProcessor p = (CnnToFeedForwardPreProcessor) pre;
            boolean nhwc = p.getFormat() == CNN2DFormat.NHWC;
            Map<String, Object> s =
                    spec(4, nhwc ? 3 : 1, p.getNumChannels(), nhwc ? "NHWC" : "NCHW");
            s.put("image", List.of(p.getNumChannels(), p.getInputHeight(), p.getInputWidth()));
            return s;
        }
        if (layer instanceof Bidirectional) {
            return recurrentSpec(((Bidirectional) layer).getFwd());
        }
        if (layer instanceof BaseRecurrentLayer || layer instanceof RnnOutputLayer
                || layer instanceof RnnLossLayer) {
            return recurrentSpec(layer);
        }
        if (layer instanceof Convolution3D) {
            return spec(5, 1, ((Convolution3D) layer).getNIn(), "NCDHW");
        }
        if (layer instanceof Convolution1DLayer) {
            return recurrentSpec(layer);
        }
        if (layer instanceof ConvolutionLayer) {
            boolean nhwc = ((ConvolutionLayer) layer).getCnn2dDataFormat() == CNN2DFormat.NHWC;
            long channels = ((ConvolutionLayer) layer).getNIn();
            return spec(4, nhwc ? 3 : 1, channels, nhwc ? "NHWC" : "NCHW");
        }
        if (layer instanceof EmbeddingLayer) {
            return spec(2, 1, 1, "NF");
        }
        if (layer instanceof FeedForwardLayer && pre == null) {
            return spec(2, 1, ((FeedForwardLayer) layer).getNIn(), "NF");
        }
        return spec(-1, -1, -1, "");
    }

    private static Map<String, Object> recurrentSpec(Layer layer) {
        RNNFormat format = RNNFormat.NCW;
        if (layer instanceof BaseRecurrentLayer
                && ((BaseRecurrentLayer) layer).getRnnDataFormat() != null) {
            format = ((BaseRecurrentLayer) layer).getRnnDataFormat();
        }
        long nIn = layer instanceof FeedForwardLayer ? ((FeedForwardLayer) layer).getNIn() : -1;
        boolean nwc = format == RNNFormat.NWC;
        return spec(3, nwc ? 2 : 1, nIn, format.name());
    }

    private static Map<String, Object> outputSpec(Layer wrapped) {
        Layer layer = unwrap(wrapped);
        int rank = 2;
        if (layer instanceof RnnOutputLayer || layer instanceof RnnLossLayer) {
            rank = 3;
        } else if (layer instanceof CnnLossLayer) {
            rank = 4;
        }
        long size = layer instanceof FeedForwardLayer ? ((FeedForwardLayer) layer).getNOut() : -1;
        if (layer instanceof LossLayer && size == 0) {
            // A loss layer (as Keras import appends) passes its input through unchanged.
            size = ((LossLayer) layer).getNIn();
        }
        Map<String, Object> s = spec(rank, 1, size, "");
        String loss = lossName(layer);
        s.put("loss", loss == null ? "" : loss);
        boolean hasActivation = layer instanceof BaseLayer
                && ((BaseLayer) layer).getActivationFn() != null;
        s.put("activation", hasActivation
                ? ((BaseLayer) layer).getActivationFn().toString() : "");
        return s;
    }

    private static Map<String, Object> spec(int rank, int axis, long size, String format) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("rank", rank);
        s.put("axis", axis);
        s.put("size", size);
        s.put("format", format);
        return s;
    }
}
