# trained run -> metrics at the original resolution, and its cost


rule evaluate:
    input:
        model=f"{RUNS}/{{run}}/model.pt",
    output:
        f"{RUNS}/{{run}}/metrics.csv",
    log:
        f"{LOGS}/evaluate/{{run}}.log",
    conda:
        "../environment.yml"
    threads: THREADS
    resources:
        gpu=GPU,
    params:
        run=lambda wc: f"{RUNS}/{wc.run}",
        device=DEVICE,
        targets=" ".join(f"'{c}'" for c in MATRIX.get("target_classes", [])),
    shell:
        "OMP_NUM_THREADS={threads} dsbench evaluate --run {params.run} --device {params.device} "
        "--target-classes {params.targets} --quiet > {log} 2>&1"


rule flops:
    input:
        model=f"{RUNS}/{{run}}/model.pt",
    output:
        f"{RUNS}/{{run}}/cost.csv",
    log:
        f"{LOGS}/flops/{{run}}.log",
    conda:
        "../environment.yml"
    threads: THREADS
    params:
        run=lambda wc: f"{RUNS}/{wc.run}",
        device=DEVICE,
    shell:
        "OMP_NUM_THREADS={threads} dsbench flops --run {params.run} --device {params.device} > {log} 2>&1"
