# The superpixel track (PCNet; Suzuki Sec 4.3): a method segments a dataset split at every
# requested count; label maps, per-(image, annotator) scores (pairs.csv) and the means as tidy
# rows (metrics.csv, collected by aggregate). Classical methods need no training.


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
        options=lambda wc: " ".join(
            f"--option {shlex.quote(f'{k}={json.dumps(v)}')}"
            for k, v in sorted(
                SUPERPIXELS["methods"][wc.label].get("options", {}).items()
            )
        ),
        n=" ".join(str(n) for n in SUPERPIXELS.get("n", [])),
        out=lambda wc, output: os.path.dirname(output[0]),
    shell:
        "OMP_NUM_THREADS={threads} dsbench segment-superpixels --method {params.method:q} "
        "--dataset {wildcards.dataset:q} --root {params.root:q} --split {params.split:q} "
        "--n {params.n} {params.options} --out {params.out:q} > {log:q} 2>&1"
