# trained run -> metrics at the original resolution, and its cost (MACs, latency, memory). One
# process writes both: importing torch and timm costs more than either job (about 7 s a process).


rule evaluate:
    input:
        model=f"{RUNS}/{{run}}/model.pt",
    output:
        metrics=f"{RUNS}/{{run}}/metrics{EVAL_SUFFIX}.csv",
        cost=f"{RUNS}/{{run}}/cost.csv",
    log:
        f"{LOGS}/evaluate/{{run}}.log",
    conda:
        "../environment.yml"
    threads: THREADS
    resources:
        **JOB_RESOURCES,
        gpu=GPU,
    params:
        run=lambda wc: f"{RUNS}/{wc.run}",
        device=DEVICE,
        targets=lambda wc: target_class_args(run_dataset(wc.run)),
        protocol=eval_protocol_args(),
    shell:
        "OMP_NUM_THREADS={threads} dsbench evaluate --run {params.run:q} --device {params.device:q} --cost "
        "{params.targets}{params.protocol} --quiet > {log:q} 2>&1"


# The regression gate's evaluation-only rows: committed weights (benchmark/engine/reference_weights.py)
# evaluated as they are, so the rows do not depend on this machine's training numerics.
if MATRIX.get("reference_weights"):
    REFERENCE_WEIGHTS_METRICS = MATRIX["reference_weights_metrics"]
    # Committed with the repository: relative to it, wherever the DAG runs (snakemake -d DIR).
    REFERENCE_WEIGHTS = os.path.join(workflow.basedir, MATRIX["reference_weights"])

    rule evaluate_reference_weights:
        input:
            weights=REFERENCE_WEIGHTS,
            data=[dataset_marker(d) for d in MATRIX["datasets"]],
        output:
            REFERENCE_WEIGHTS_METRICS,
        log:
            f"{LOGS}/evaluate_reference_weights.log",
        conda:
            "../environment.yml"
        threads: THREADS
        params:
            root=dataset_root(next(iter(MATRIX["datasets"]))),
            out=lambda wc, output: os.path.dirname(output[0]),
            device=DEVICE,
            targets=target_class_args(next(iter(MATRIX["datasets"]))),
        shell:
            "OMP_NUM_THREADS={threads} dsbench evaluate-weights --weights {input.weights:q} --root {params.root:q} "
            "--out {params.out:q} --device {params.device} {params.targets} --quiet > {log:q} 2>&1"

    ALL_TARGETS.append(REFERENCE_WEIGHTS_METRICS)
