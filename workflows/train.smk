# dataset + method + model -> trained run folder (resumes from its checkpoint when re-run)


rule train:
    input:
        data=lambda wc: dataset_marker(wc.dataset),
        extra=extra_train_inputs,
    output:
        model=f"{RUNS}/{{dataset}}-{{label}}-{{model}}-{{res}}-s{{seed}}/model.pt",
        rows=f"{RUNS}/{{dataset}}-{{label}}-{{model}}-{{res}}-s{{seed}}/train.csv",
    log:
        f"{LOGS}/train/{{dataset}}-{{label}}-{{model}}-{{res}}-s{{seed}}.log",
    conda:
        "../environment.yml"
    threads: THREADS
    resources:
        gpu=GPU,
    params:
        root=lambda wc: dataset_root(wc.dataset),
        method=lambda wc: method_entry(wc.label)["method"],
        encoder=lambda wc: MATRIX["models"][wc.model].get("encoder", "resnet18"),
        options=method_option_args,
        run=lambda wc: f"{RUNS}/{run_id(wc.dataset, wc.label, wc.model, wc.res, wc.seed)}",
        train=lambda wc: {**MATRIX["train"], **method_entry(wc.label).get("train", {})},
        device=DEVICE,
    shell:
        "OMP_NUM_THREADS={threads} dsbench train --dataset {wildcards.dataset} --root {params.root} "
        "--method {params.method} --label {wildcards.label} --model {wildcards.model} "
        "--encoder {params.encoder} --resolution {wildcards.res} --seed {wildcards.seed} "
        "--iters {params.train[iters]} --batch-size {params.train[batch_size]} "
        "--lr {params.train[lr]} --checkpoint-every {params.train[checkpoint_every]} "
        "--device {params.device} {params.options} --out {params.run} --quiet > {log} 2>&1"


rule train_aux:
    # Marin's auxiliary network: trained once per dataset, before every resolution's
    # segmentation network, which it feeds through the method option aux_checkpoint.
    input:
        data=lambda wc: dataset_marker(wc.dataset),
    output:
        f"{RUNS}/{{dataset}}-{{label}}-aux/aux.pt",
    log:
        f"{LOGS}/train_aux/{{dataset}}-{{label}}.log",
    conda:
        "../environment.yml"
    threads: THREADS
    resources:
        gpu=GPU,
    params:
        root=lambda wc: dataset_root(wc.dataset),
        aux=lambda wc: {
            "lam": 1.0,
            "features": 256,
            **method_entry(wc.label)["aux"],
            **MATRIX.get("aux_override", {}),
        },
    shell:
        "OMP_NUM_THREADS={threads} dsbench train-aux --dataset {wildcards.dataset} --root {params.root} "
        "--out {output} --size-in {params.aux[size_in]} --size-out {params.aux[size_out]} "
        "--iters {params.aux[iters]} --batch-size {params.aux[batch_size]} "
        "--lam {params.aux[lam]} --features {params.aux[features]} > {log} 2>&1"
