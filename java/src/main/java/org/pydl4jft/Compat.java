package org.pydl4jft;

import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CacheMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.RnnLossLayer;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

/**
 * Repairs, after loading, configuration values that older DL4J versions left unset and that
 * DL4J 1.0.0-M2.1 reads differently from the version that wrote them.
 */
public final class Compat {
    private Compat() {}

    /**
     * Gives RNN output and loss layers saved before data formats existed (rnnDataFormat
     * null) the only layout their DL4J knew, [batch, size, time]. M2.1 predicts with them
     * correctly but, in training, takes null for [batch, time, size] and refuses every
     * label array. Returns the names of the layers changed.
     */
    public static List<String> fixLegacyRnnFormats(Model model) {
        List<String> fixed = new ArrayList<>();
        for (Layer layer : layers(model)) {
            if (layer instanceof RnnOutputLayer) {
                RnnOutputLayer output = (RnnOutputLayer) layer;
                if (output.getRnnDataFormat() == null) {
                    output.setRnnDataFormat(RNNFormat.NCW);
                    fixed.add(layer.getLayerName());
                }
            } else if (layer instanceof RnnLossLayer) {
                RnnLossLayer loss = (RnnLossLayer) layer;
                if (loss.getRnnDataFormat() == null) {
                    loss.setRnnDataFormat(RNNFormat.NCW);
                    fixed.add(layer.getLayerName());
                }
            }
        }
        return fixed;
    }

    /**
     * Gives layers saved before cache modes existed (cacheMode null) the mode their DL4J
     * used, NONE. M2.1 takes null for "cache": a GravesBidirectionalLSTM then reuses the
     * forward pass of the previous call, from a workspace already reset, so every second
     * prediction fails or returns garbage and training fails. Returns the names of the
     * layers changed.
     */
    public static List<String> fixLegacyCacheModes(Model model) {
        List<String> fixed = new ArrayList<>();
        for (NeuralNetConfiguration conf : layerConfs(model)) {
            if (conf.getCacheMode() == null) {
                conf.setCacheMode(CacheMode.NONE);
                fixed.add(conf.getLayer().getLayerName());
            }
        }
        // The layers copied the mode when the network was built: set it there too.
        org.deeplearning4j.nn.api.Layer[] built =
                model instanceof MultiLayerNetwork
                        ? ((MultiLayerNetwork) model).getLayers()
                        : ((ComputationGraph) model).getLayers();
        for (org.deeplearning4j.nn.api.Layer layer : built) {
            if (fixed.contains(layer.conf().getLayer().getLayerName())) {
                layer.setCacheMode(CacheMode.NONE);
            }
        }
        return fixed;
    }

    private static List<Layer> layers(Model model) {
        List<Layer> out = new ArrayList<>();
        for (NeuralNetConfiguration conf : layerConfs(model)) {
            out.add(conf.getLayer());
        }
        return out;
    }

    private static List<NeuralNetConfiguration> layerConfs(Model model) {
        List<NeuralNetConfiguration> out = new ArrayList<>();
        if (model instanceof MultiLayerNetwork) {
            MultiLayerNetwork net = (MultiLayerNetwork) model;
            for (int i = 0; i < net.getnLayers(); i++) {
                out.add(net.getLayerWiseConfigurations().getConf(i));
            }
        } else {
            ComputationGraph graph = (ComputationGraph) model;
            for (GraphVertex v : graph.getConfiguration().getVertices().values()) {
                if (v instanceof LayerVertex) {
                    out.add(((LayerVertex) v).getLayerConf());
                }
            }
        }
        return out;
    }
}
