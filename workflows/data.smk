# datasets -> files in the Cityscapes layout (generated datasets live in data/<name>/)


rule make_data:
    output:
        "data/{dataset}/.{dataset}.json",
    log:
        f"{LOGS}/make_data/{{dataset}}.log",
    conda:
        "../environment.yml"
    threads: 1
    params:
        root=lambda wc: dataset_root(wc.dataset),
        sizes=lambda wc: ",".join(
            f"{k}={v}" for k, v in dataset_entry(wc.dataset)["split_sizes"].items()
        ),
        size=lambda wc: dataset_entry(wc.dataset)["size"],
        seed=lambda wc: dataset_entry(wc.dataset)["seed"],
    shell:
        "dsbench make-data --dataset {wildcards.dataset:q} --root {params.root:q} "
        "--split-sizes {params.sizes:q} --size {params.size:q} --seed {params.seed:q} > {log:q} 2>&1"
