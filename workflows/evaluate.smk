# trained run -> metrics at the original resolution, and its cost


rule evaluate:
    input:
        model=f"{RUNS}/{{run}}/model.pt",
    output:
        f"{RUNS}/{{run}}/metrics.csv",
    log:
        f"{LOGS}/evaluate/{{run}}.log",
    params:
        targets=" ".join(f"'{c}'" for c in MATRIX.get("target_classes", [])),
    threads: THREADS
    resources:
        gpu=GPU,
    shell:
        "OMP_NUM_THREADS={threads} dsbench evaluate --run {RUNS}/{wildcards.run} --device {DEVICE} "
        "--target-classes {params.targets} --quiet > {log} 2>&1"


rule flops:
    input:
        model=f"{RUNS}/{{run}}/model.pt",
    output:
        f"{RUNS}/{{run}}/cost.csv",
    log:
        f"{LOGS}/flops/{{run}}.log",
    threads: THREADS
    shell:
        "OMP_NUM_THREADS={threads} dsbench flops --run {RUNS}/{wildcards.run} --device {DEVICE} > {log} 2>&1"
