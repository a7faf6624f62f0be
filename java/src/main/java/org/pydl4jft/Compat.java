package org.pydl4jft;

import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.nn.api.Model;
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

    private static List<Layer> layers(Model model) {
        List<Layer> out = new ArrayList<>();
        if (model instanceof MultiLayerNetwork) {
            MultiLayerNetwork net = (MultiLayerNetwork) model;
            for (int i = 0; i < net.getnLayers(); i++) {
                out.add(net.getLayerWiseConfigurations().getConf(i).getLayer());
            }
        } else {
            ComputationGraph graph = (ComputationGraph) model;
            for (GraphVertex v : graph.getConfiguration().getVertices().values()) {
                if (v instanceof LayerVertex) {
                    out.add(((LayerVertex) v).getLayerConf().getLayer());
                }
            }
        }
        return out;
    }
}
