package esrestore.realnode;

import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.Plugin;

import java.util.Collection;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The part of RootPlugin shared by 8.x and 9.x: it keeps the node's ClusterService for
 * MainResponse. Each version's RootPlugin registers the handler with that version's
 * ActionPlugin.getRestHandlers signature.
 */
abstract class RootPluginBase extends Plugin implements ActionPlugin {
    private final AtomicReference<ClusterService> clusterService = new AtomicReference<>();

    @Override
    public Collection<?> createComponents(PluginServices services) {
        clusterService.set(services.clusterService());
        return List.of();
    }

    MainResponse mainResponse() {
        return new MainResponse(clusterService::get);
    }
}
