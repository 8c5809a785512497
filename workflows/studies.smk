# Dataset-level studies that need no network, declared by the method families in the matrix
# (e.g. class priors after downsampling, Alcover-Couso eq. 5; the ground-truth sampling points
# of Marin's Fig 3), stored as tidy rows beside the runs so `aggregate` collects them.


rule study:
    input:
        data=lambda wc: dataset_marker(wc.dataset),
    output:
        f"{RUNS}/{{dataset}}-{{study}}/metrics.csv",
    log:
        f"{LOGS}/study/{{dataset}}-{{study}}.log",
    # Other rules' outputs share the shape RUN/<a>-<b>/metrics.csv (superpixels-resolution,
    # synthcity-superpixels-slic): a study is a dataset of the matrix and one word.
    wildcard_constraints:
        dataset=DATASET_WILDCARD,
        study=r"[a-z][a-z0-9_]*",
    conda:
        "../environment.yml"
    threads: 1
    params:
        dataset=lambda wc: dataset_args(wc.dataset),
    shell:
        "OMP_NUM_THREADS={threads} dsbench study {wildcards.study:q} {params.dataset} "
        "--out {output:q} > {log:q} 2>&1"
