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
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            // Tests wipe the node between cases with DELETE /*.
            .put("action.destructive_requires_name", false);
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
        watch(dir);
        stopped.await();
    }

    /**
     * With -Drealnode.watch.pid=PID the node exits when that process does (a test binary that
     * started it and ended without stopping it), and with -Drealnode.remove.dir=true it removes
     * DIR on the way out.
     */
    private static void watch(Path dir) {
        String pid = System.getProperty("realnode.watch.pid", "");
        if (pid.isEmpty()) {
            return;
        }
        boolean remove = Boolean.parseBoolean(System.getProperty("realnode.remove.dir", "false"));
        Thread t = new Thread(() -> {
            while (ProcessHandle.of(Long.parseLong(pid)).map(ProcessHandle::isAlive).orElse(false)) {
                try {
                    Thread.sleep(500);
                } catch (InterruptedException e) {
                    return;
                }
            }
            if (remove) {
                Runtime.getRuntime().addShutdownHook(new Thread(() -> removeTree(dir)));
            }
            System.exit(0);
        }, "realnode-watch");
        t.setDaemon(true);
        t.start();
    }

    private static void removeTree(Path dir) {
        try (var paths = Files.walk(dir)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (Exception e) {
            e.printStackTrace();
        }
    }
}
