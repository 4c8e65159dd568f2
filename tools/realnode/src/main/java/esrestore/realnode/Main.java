package esrestore.realnode;

import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.http.HttpServerTransport;
import org.elasticsearch.node.MockNode;
import org.elasticsearch.node.Node;
import org.elasticsearch.test.ESTestCase;
import org.elasticsearch.transport.netty4.Netty4Plugin;

import org.junit.runner.JUnitCore;
import org.junit.runner.Result;
import org.junit.runner.notification.Failure;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Starts one Elasticsearch node on 127.0.0.1 and keeps it running until the JVM is told to stop.
 *
 * <p>The node runs inside the one test of an ESTestCase, under the randomized runner, because that
 * sets up what a node needs outside Elastic's launcher: logging, the bootstrap's test mode and the
 * random context that Randomness (node ids, shard allocation) asks for. The test starts the node
 * and waits until the JVM is told to stop.
 *
 * <p>Arguments: DIR HTTP_PORT TRANSPORT_PORT WRITE_QUEUE. Data goes to DIR/data, the fs snapshot
 * repositories' root (path.repo) is DIR/repo, and "started" is written to DIR/started once the
 * node has started.
 */
public class Main extends ESTestCase {
    private static String[] args;

    public static void main(String[] argv) {
        if (argv.length != 4) {
            System.err.println("usage: Main DIR HTTP_PORT TRANSPORT_PORT WRITE_QUEUE");
            System.exit(2);
        }
        args = argv;
        Result result = new JUnitCore().run(Main.class);
        for (Failure f : result.getFailures()) {
            System.err.println(f.getTrace());
        }
        System.exit(result.wasSuccessful() ? 0 : 1);
    }

    public void testServe() throws Exception {
        Path dir = Path.of(args[0]).toAbsolutePath();
        Settings.Builder settings = Settings.builder()
            .put("cluster.name", "esrestore-realnode")
            .put("node.name", "realnode-0")
            .put("path.home", dir.resolve("home").toString())
            .put("path.data", dir.resolve("data").toString())
            .put("path.repo", dir.resolve("repo").toString())
            .put("network.host", "127.0.0.1")
            .put("http.port", args[1])
            .put("transport.port", args[2])
            .put("http.type", "netty4")
            .put("transport.type", "netty4")
            .put("discovery.type", "single-node")
            // A nearly full disk must not turn the node read-only in the middle of a test run.
            .put("cluster.routing.allocation.disk.threshold_enabled", false);
        int writeQueue = Integer.parseInt(args[3]);
        if (writeQueue > 0) {
            // A small write queue makes the node reject bulks with real 429s.
            settings.put("thread_pool.write.queue_size", writeQueue);
            settings.put("thread_pool.write.size", 1);
        }
        Files.createDirectories(dir.resolve("home"));
        Files.createDirectories(dir.resolve("repo"));
        Files.deleteIfExists(dir.resolve("started"));

        Node node = new MockNode(settings.build(), List.of(Netty4Plugin.class, RootPlugin.class), true, null);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }));
        node.start();
        // http.port 0 lets the node pick a free port; the script keeps it so that a restart on the
        // same DIR serves the same URL, as a restarted cluster node does.
        int port = node.injector().getInstance(HttpServerTransport.class).boundAddress().publishAddress().getPort();
        Files.writeString(dir.resolve("http.port"), port + "\n");
        Files.writeString(dir.resolve("started"), ProcessHandle.current().pid() + "\n");
        System.out.println("realnode started: http://127.0.0.1:" + port);
        stopped.await();
    }
}
