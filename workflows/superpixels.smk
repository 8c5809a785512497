# The superpixel track (PCNet; Suzuki Sec 4.3): a method segments a dataset split at every
# requested count; label maps, per-(image, annotator) scores (pairs.csv) and the means as tidy
# rows (metrics.csv, collected by aggregate). Classical methods need no training; a deep method
# entry with `train:` is first trained on the dataset's train split (rule superpixel_train) and
# segments with that run.


# Deep entries train once per seed (the track's `seeds:`, else the config's `seeds`; run folders
# and rows carry -s<seed> like the other tracks' runs) on the run's device, with its threads and
# cluster resources (one GPU per job when device is cuda), like the train and evaluate rules.
# Classical methods are CPU libraries: one job each, one thread, no GPU asked for.


rule superpixel_train:
    input:
        data=lambda wc: superpixel_data(wc.dataset),
    output:
        f"{RUNS}/{{dataset}}-superpixels-{{label}}-s{{seed}}-train/model.pt",
    log:
        f"{LOGS}/superpixels/{{dataset}}-{{label}}-s{{seed}}-train.log",
    conda:
        "../environment.yml"
    threads: THREADS
    resources:
        **JOB_RESOURCES,
        gpu=GPU,
    params:
        root=lambda wc: superpixel_root(wc.dataset),
        split=lambda wc: SUPERPIXELS["datasets"][wc.dataset].get("train_split", "train"),
        method=lambda wc: superpixel_method(wc.label)["method"],
        settings=lambda wc: superpixel_train_args(wc.label, wc.seed),
        options=lambda wc: superpixel_option_args(wc.label),
        out=lambda wc, output: os.path.dirname(output[0]),
        device=DEVICE,
    shell:
        "OMP_NUM_THREADS={threads} dsbench train-superpixels --method {params.method:q} "
        "--dataset {wildcards.dataset:q} --root {params.root:q} --split {params.split:q} "
        "{params.settings} {params.options} --device {params.device:q} --out {params.out:q} --quiet > {log:q} 2>&1"


# A deep entry with `train:` segments with each of its seeds' runs, on the run's device.
rule superpixels_trained:
    input:
        data=lambda wc: superpixel_data(wc.dataset),
        run=lambda wc: superpixel_trained_run(wc.dataset, wc.label, wc.seed),
    output:
        f"{RUNS}/{{dataset}}-superpixels-{{label}}-s{{seed}}/metrics.csv",
    log:
        f"{LOGS}/superpixels/{{dataset}}-{{label}}-s{{seed}}.log",
    conda:
        "../environment.yml"
    threads: THREADS
    resources:
        **JOB_RESOURCES,
        gpu=GPU,
    params:
        root=lambda wc: superpixel_root(wc.dataset),
        split=lambda wc: SUPERPIXELS["datasets"][wc.dataset]["split"],
        method=lambda wc: SUPERPIXELS["methods"][wc.label]["method"],
        segment=lambda wc: superpixel_segment_args(wc.dataset, wc.label, wc.seed),
        out=lambda wc, output: os.path.dirname(output[0]),
        device=DEVICE,
    shell:
        "OMP_NUM_THREADS={threads} dsbench segment-superpixels --method {params.method:q} "
        "--dataset {wildcards.dataset:q} --root {params.root:q} --split {params.split:q} "
        "{params.segment} --device {params.device:q} --out {params.out:q} > {log:q} 2>&1"


# A classical method (or a deep entry without `train:`, which gets skipped rows): CPU, no seed.
rule superpixels:
    input:
        data=lambda wc: superpixel_data(wc.dataset),
    output:
        f"{RUNS}/{{dataset}}-superpixels-{{label}}/metrics.csv",
    log:
        f"{LOGS}/superpixels/{{dataset}}-{{label}}.log",
    conda:
        "../environment.yml"
    threads: 1
    params:
        root=lambda wc: superpixel_root(wc.dataset),
        split=lambda wc: SUPERPIXELS["datasets"][wc.dataset]["split"],
        method=lambda wc: SUPERPIXELS["methods"][wc.label]["method"],
        segment=lambda wc: superpixel_segment_args(wc.dataset, wc.label),
        out=lambda wc, output: os.path.dirname(output[0]),
    shell:
        "OMP_NUM_THREADS={threads} dsbench segment-superpixels --method {params.method:q} "
        "--dataset {wildcards.dataset:q} --root {params.root:q} --split {params.split:q} "
        "{params.segment} --out {params.out:q} > {log:q} 2>&1"


# PCNet Fig 1: PCNet vs SCN inference time and peak memory against the input resolution, on CPU,
# as tidy rows (figure superpixel_resolution); only where `superpixels:` lists resolution_sizes.
# CPU whatever the run's device: the verb measures the CPU allocator's peak (no CUDA measurement).
rule superpixel_resolution:
    output:
        f"{RUNS}/superpixels-resolution/metrics.csv",
    log:
        f"{LOGS}/superpixels/resolution.log",
    conda:
        "../environment.yml"
    threads: 1
    params:
        sizes=lambda wc: " ".join(SUPERPIXELS["resolution_sizes"]),
    shell:
        "OMP_NUM_THREADS={threads} dsbench superpixel-resolution --sizes {params.sizes} --threads {threads} "
        "--out {output:q} > {log:q} 2>&1"
