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
        sizes=lambda wc: ",".join(
            f"{k}={v}" for k, v in dataset_entry(wc.dataset)["split_sizes"].items()
        ),
        size=lambda wc: dataset_entry(wc.dataset)["size"],
        seed=lambda wc: dataset_entry(wc.dataset)["seed"],
    shell:
        "dsbench make-data --dataset {wildcards.dataset} --root data/{wildcards.dataset} "
        "--split-sizes {params.sizes} --size {params.size} --seed {params.seed} > {log} 2>&1"
