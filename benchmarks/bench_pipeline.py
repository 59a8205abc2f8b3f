"""Benchmark of the feature cache's tf.data pipeline (issue #6): read speed, training speed, memory.

One run measures, on a synthetic cache of random float16 VGGFace-shaped maps
(7x7x512, ``--frames`` cached frames per clip, AST's 20-frame sampler), written
with :func:`keras_fer.data.cache.write_cache` (no stem run needed):

(a) read speed: clips/s of one training epoch of
    :func:`keras_fer.data.pipeline.feature_dataset` (shuffled shards,
    per-epoch frame draws, shuffle buffer, batches, float32 output) against a
    plain sequential Python read of the same shard bytes (8 MiB ``read``
    calls), and against a plain sequential loader that also turns each record
    into a float32 array (``np.frombuffer`` + ``astype``). Target: >= 0.8x the
    plain read.
(b) training speed: one epoch of the AST head
    (``create_model("ast", input="features", feature_shape=(20, 7, 7, 512))``)
    fed by the cache pipeline against the same head fed in-memory NumPy
    tensors (``model.fit(x, y)``); the median of 5 epochs after a warm-up
    epoch. Target: >= 0.9x. The head fed the pipeline's float16 output
    (``dtype="float16"``; the head casts it) is shown too. The CPU time
    per epoch (all threads) is printed too: on a shared machine it is
    steadier than the wall clock.
(c) memory: peak resident set size (``ru_maxrss``) of a fresh process that
    trains the AST head one epoch on a cache of N clips and on one of 8N
    clips. Target: ratio <= 1.15. The same head fed in-memory arrays of the
    same caches is the control (its memory grows with the data).

The pipeline is timed on files in the page cache (the caches are read once
before timing); the plain read is timed both from the page cache (the
target's reference, memory bandwidth) and with ``O_DIRECT`` from the disk
(what a cache larger than the RAM, DFEW on a laptop, is read at).

Run: ``python benchmarks/bench_pipeline.py`` (defaults: N = 64 clips of 24
cached frames; the 8N cache takes 600 MB of disk in ``--work-dir``; about 5
minutes on 2 CPU cores, most of it writing the caches). The load average is
printed, because other work on the machine slows every figure.
"""

import argparse
import json
import mmap
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

NUM_CLASSES = 7
FEATURE_SHAPE = (7, 7, 512)
SAMPLER = "ast"
SAMPLER_OPTIONS = {"num_frames": 20, "stride": 1}
NUM_FRAMES = 20


def write_synthetic_cache(folder, num_clips, frames, seed=0):
    """A cache of ``num_clips`` clips of ``frames`` random float16 7x7x512 maps (ReLU-like, non-negative)."""
    from keras_fer.data import cache

    samples = [
        cache.CacheSample(id=f"clip{i:06d}", label=f"class{i % NUM_CLASSES}", subject=f"S{i % 10:02d}",
                          frame_indices=tuple(range(frames)), sampler_frames=frames,
                          source_frames=tuple(range(frames)))
        for i in range(num_clips)
    ]

    def features(todo):
        for sample in todo:
            rng = np.random.default_rng(int(sample.id[4:]) + seed)
            yield np.abs(rng.standard_normal((frames,) + FEATURE_SHAPE, dtype=np.float32)).astype(np.float16)

    config = {"stem": "synthetic", "sampler": SAMPLER, "sampler_options": SAMPLER_OPTIONS, "seed": seed}
    cache.write_cache(folder, samples, features, config, FEATURE_SHAPE, progress=False)
    return folder


def plain_read(folder):
    """Seconds to read every shard file sequentially in 8 MiB chunks, and the bytes read."""
    from keras_fer.data import cache

    info = cache.open_cache(folder)
    start, total = time.perf_counter(), 0
    for path in info.shard_files:
        with open(path, "rb") as handle:
            while chunk := handle.read(8 << 20):
                total += len(chunk)
    return time.perf_counter() - start, total


def direct_read(folder):
    """Seconds to read every shard file with O_DIRECT (past the page cache, from the disk), 8 MiB at a time."""
    from keras_fer.data import cache

    info = cache.open_cache(folder)
    buffer = mmap.mmap(-1, 8 << 20)  # page-aligned, as O_DIRECT needs
    start = time.perf_counter()
    for path in info.shard_files:
        descriptor = os.open(path, os.O_RDONLY | os.O_DIRECT)
        try:
            while os.readv(descriptor, [buffer]) == len(buffer):
                pass
        finally:
            os.close(descriptor)
    return time.perf_counter() - start


def plain_loader(folder):
    """Seconds to read every record sequentially and make its float32 (frames, 7, 7, 512) array."""
    import tensorflow as tf

    from keras_fer.data import cache

    info = cache.open_cache(folder)
    start = time.perf_counter()
    for shard, path in enumerate(info.shard_files):
        with open(path, "rb") as handle:
            data = handle.read()
        with open(cache.shard_path(folder, shard, len(info.shard_files), ".json")) as handle:
            index = json.load(handle)
        for entry in index["records"]:
            # A TFRecord record: 8-byte length, 4-byte CRC, the serialized Example, 4-byte CRC.
            example = tf.train.Example.FromString(data[entry["offset"] + 12:entry["offset"] + entry["length"] - 4])
            shape = tuple(example.features.feature["shape"].int64_list.value)
            payload = example.features.feature["features"].bytes_list.value[0]
            np.frombuffer(payload, "<f2").reshape(shape).astype(np.float32)
    return time.perf_counter() - start


def pipeline_epoch(folder, batch_size, shuffle_buffer, dtype="float32"):
    """Seconds and CPU seconds (all threads) of one training epoch of feature_dataset (after a warm-up epoch that
    traces the functions), and the clips read."""
    from keras_fer.data import pipeline

    dataset = pipeline.feature_dataset(folder, training=True, batch_size=batch_size, shuffle_buffer=shuffle_buffer,
                                       seed=0, dtype=dtype)
    for _ in dataset:  # warm-up: traces the functions
        pass
    start, start_cpu, clips = time.perf_counter(), cpu_seconds(), 0
    for features, _ in dataset:
        clips += int(features.shape[0])
    return time.perf_counter() - start, cpu_seconds() - start_cpu, clips


def build_head():
    import keras

    from keras_fer.models import create_model

    head = create_model("ast", NUM_CLASSES, input="features", feature_shape=(NUM_FRAMES,) + FEATURE_SHAPE)
    head.compile(keras.optimizers.Adam(1e-4), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return head


class _EpochTimer:
    def __init__(self):
        import keras

        outer = self
        self.times, self.cpu = [], []

        class Callback(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                outer.start, outer.start_cpu = time.perf_counter(), cpu_seconds()

            def on_epoch_end(self, epoch, logs=None):
                outer.times.append(time.perf_counter() - outer.start)
                outer.cpu.append(cpu_seconds() - outer.start_cpu)

        self.callback = Callback()


def in_memory(folder, batch_size):
    """The cache's test draws as NumPy arrays: x (N, 20, 7, 7, 512) float32, y (N,)."""
    from keras_fer.data import pipeline

    test = pipeline.feature_dataset(folder, training=False, batch_size=batch_size)
    xs, ys = [], []
    for features, labels in test:
        xs.append(features.numpy())
        ys.append(labels.numpy())
    return np.concatenate(xs), np.concatenate(ys)


def training_epochs(folder, batch_size, shuffle_buffer, epochs=6):
    """Median wall and CPU seconds of epochs 2..``epochs`` of the AST head, on the cache pipeline and in memory."""
    import keras

    from keras_fer.data import pipeline

    def train(dtype):
        return pipeline.feature_dataset(folder, training=True, batch_size=batch_size, shuffle_buffer=shuffle_buffer,
                                        seed=0, dtype=dtype)

    x, y = in_memory(folder, batch_size)
    results = {}
    for name, fit_args in (("cache pipeline", dict(x=train("float32"), shuffle=False)),  # it shuffles itself
                           ("in-memory tensors", dict(x=x, y=y, batch_size=batch_size, shuffle=True)),
                           ("cache pipeline, float16 out", dict(x=train("float16"), shuffle=False))):
        keras.utils.set_random_seed(0)
        head = build_head()
        timer = _EpochTimer()
        head.fit(epochs=epochs, verbose=0, callbacks=[timer.callback], **fit_args)
        # The first epoch traces and compiles.
        results[name] = (float(np.median(timer.times[1:])), float(np.median(timer.cpu[1:])))
    return results, len(y), x.nbytes


def rss_child(folder, mode, batch_size, shuffle_buffer):
    """Train one epoch in this (fresh) process on the cache pipeline or on in-memory arrays; print the peak RSS."""
    from keras_fer.data import pipeline

    head = build_head()
    if mode == "pipeline":
        train = pipeline.feature_dataset(folder, training=True, batch_size=batch_size, shuffle_buffer=shuffle_buffer,
                                         seed=0)
        head.fit(train, epochs=1, verbose=0, shuffle=False)
    else:
        x, y = in_memory(folder, batch_size)
        head.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"peak_rss_mib": peak_kib / 1024}))


def peak_rss(folder, mode, batch_size, shuffle_buffer):
    command = [sys.executable, os.path.abspath(__file__), "--rss-child", folder, "--rss-mode", mode,
               "--batch-size", str(batch_size), "--shuffle-buffer", str(shuffle_buffer)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])["peak_rss_mib"]


def cpu_seconds():
    """CPU time (user + system) of this process so far, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(function, *args, **kwargs):
    """``(result, CPU seconds)`` of a call."""
    start = cpu_seconds()
    result = function(*args, **kwargs)
    return result, cpu_seconds() - start


def folder_bytes(folder):
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(folder) for name in names)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=64, help="N: clips of the small cache (8N in the large one)")
    parser.add_argument("--frames", type=int, default=24, help="cached frames per clip (AST draws 20)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--shuffle-buffer", type=int, default=64)
    parser.add_argument("--work-dir", help="folder for the caches (default: a temporary folder, removed)")
    parser.add_argument("--rss-child", metavar="CACHE", help=argparse.SUPPRESS)
    parser.add_argument("--rss-mode", choices=["pipeline", "memory"], default="pipeline", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        rss_child(args.rss_child, args.rss_mode, args.batch_size, args.shuffle_buffer)
        return 0

    work = args.work_dir or tempfile.mkdtemp(prefix="bench_pipeline_")
    try:
        started = time.perf_counter()
        print(f"load average at the start: {', '.join(f'{load:.1f}' for load in os.getloadavg())} "
              f"on {os.cpu_count()} CPUs")
        small = write_synthetic_cache(os.path.join(work, "cache_n"), args.clips, args.frames)
        large = write_synthetic_cache(os.path.join(work, "cache_8n"), 8 * args.clips, args.frames)
        write_s = time.perf_counter() - started
        for folder in (small, large):
            plain_read(folder)  # into the page cache
        print(f"caches: N = {args.clips} clips ({folder_bytes(small) / 2**20:.0f} MiB), 8N = {8 * args.clips} clips "
              f"({folder_bytes(large) / 2**20:.0f} MiB); {args.frames} cached 7x7x512 float16 maps per clip; "
              f"AST sampler, 20 frames; batch {args.batch_size}, shuffle buffer {args.shuffle_buffer}; "
              f"written in {write_s:.0f} s")

        (read_s, read_bytes), read_cpu = timed(plain_read, large)
        direct_s, direct_cpu = timed(direct_read, large)
        loader_s, loader_cpu = timed(plain_loader, large)
        pipe_s, pipe_cpu, pipe_clips = pipeline_epoch(large, args.batch_size, args.shuffle_buffer)
        half_s, half_cpu, half_clips = pipeline_epoch(large, args.batch_size, args.shuffle_buffer, dtype="float16")
        clips = 8 * args.clips
        plain_rate, loader_rate, pipe_rate = clips / read_s, clips / loader_s, pipe_clips / pipe_s
        print("\n(a) read speed on the 8N cache (CPU ms: CPU time of all threads per clip, timed epoch only)")
        print(f"  {'reader':58s} {'clips/s':>9s} {'MiB/s':>8s} {'CPU ms':>7s}")
        for name, rate, cpu in (
                ("plain sequential read of the shard bytes (page cache)", plain_rate, read_cpu / clips),
                ("plain sequential read of the shard bytes (O_DIRECT, disk)", clips / direct_s, direct_cpu / clips),
                ("plain sequential loader (bytes -> float32 arrays)", loader_rate, loader_cpu / clips),
                ("feature_dataset, training epoch, float32 out", pipe_rate, pipe_cpu / pipe_clips),
                ("feature_dataset, training epoch, float16 out", half_clips / half_s, half_cpu / half_clips)):
            print(f"  {name:58s} {rate:9.1f} {rate * read_bytes / clips / 2**20:8.0f} {1e3 * cpu:7.2f}")
        ratio_a = pipe_rate / plain_rate
        print(f"  pipeline / plain read (page cache) = {ratio_a:.2f} (target >= 0.8: "
              f"{'met' if ratio_a >= 0.8 else 'NOT met'}); pipeline / plain read (disk) = "
              f"{pipe_rate * direct_s / clips:.2f}; pipeline / plain loader = {pipe_rate / loader_rate:.2f}")

        times, n_train, x_bytes = training_epochs(small, args.batch_size, args.shuffle_buffer)
        print(f"\n(b) AST head, one epoch of {n_train} clips (median of epochs 2-6; in-memory x = "
              f"{x_bytes / 2**20:.0f} MiB; CPU: all threads)")
        for name, (seconds, cpu) in times.items():
            print(f"  {name:28s} {seconds:7.2f} s  {n_train / seconds:7.1f} clips/s  CPU {cpu:6.2f} s")
        ratio_b = times["in-memory tensors"][0] / times["cache pipeline"][0]
        print(f"  CPU time in memory / on the cache = {times['in-memory tensors'][1] / times['cache pipeline'][1]:.2f}")
        print(f"  cache / in-memory throughput = {ratio_b:.2f} "
              f"(target >= 0.9: {'met' if ratio_b >= 0.9 else 'NOT met'}); with float16 out (the head casts): "
              f"{times['in-memory tensors'][0] / times['cache pipeline, float16 out'][0]:.2f}")

        rss = {(mode, folder): peak_rss(folder, mode, args.batch_size, args.shuffle_buffer)
               for mode in ("pipeline", "memory") for folder in (small, large)}
        ratio_c = rss["pipeline", large] / rss["pipeline", small]
        print("\n(c) peak RSS (MiB) of a fresh process training the AST head one epoch")
        print(f"  {'fed by':34s} {f'N = {args.clips}':>10s} {f'8N = {8 * args.clips}':>10s} {'ratio':>7s}")
        for mode, name in (("pipeline", "cache pipeline"), ("memory", "in-memory arrays (control)")):
            print(f"  {name:34s} {rss[mode, small]:10.0f} {rss[mode, large]:10.0f} "
                  f"{rss[mode, large] / rss[mode, small]:7.3f}")
        print(f"  cache pipeline ratio = {ratio_c:.3f} (target <= 1.15: {'met' if ratio_c <= 1.15 else 'NOT met'})")
        print(f"\ntotal {time.perf_counter() - started:.0f} s; load average (1, 5, 15 min) at the end: "
              f"{', '.join(f'{load:.1f}' for load in os.getloadavg())} on {os.cpu_count()} CPUs")
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
