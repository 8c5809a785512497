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
        **JOB_RESOURCES,
        gpu=GPU,
    params:
        dataset=lambda wc: dataset_args(wc.dataset),
        method=lambda wc: method_entry(wc.label)["method"],
        settings=train_setting_args,
        encoder=lambda wc: model_entry(wc.label, wc.model).get("encoder", "resnet18"),
        options=method_option_args,
        run=lambda wc: f"{RUNS}/{run_id(wc.dataset, wc.label, wc.model, wc.res, wc.seed)}",
        train=lambda wc: run_train_settings(MATRIX, wc.label, wc.res),
        device=DEVICE,
    shell:
        "OMP_NUM_THREADS={threads} dsbench train {params.dataset} "
        "--method {params.method:q} --label {wildcards.label:q} --model {wildcards.model:q} "
        "--encoder {params.encoder:q} --resolution {wildcards.res:q} --seed {wildcards.seed:q} "
        "--iters {params.train[iters]:q} --batch-size {params.train[batch_size]:q} "
        "--lr {params.train[lr]:q} --checkpoint-every {params.train[checkpoint_every]:q} {params.settings} "
        "--device {params.device:q} {params.options} --out {params.run:q} --quiet > {log:q} 2>&1"


rule prepare:
    # A method's preparation step (Marin's auxiliary network): once per dataset, before every
    # resolution's segmentation network, which it feeds through the method option it names.
    input:
        data=lambda wc: dataset_marker(wc.dataset),
    output:
        f"{RUNS}/{{dataset}}-{{label}}-{{step}}/{{step}}.pt",
    log:
        f"{LOGS}/prepare/{{dataset}}-{{label}}-{{step}}.log",
    conda:
        "../environment.yml"
    threads: THREADS
    resources:
        gpu=GPU,
    params:
        dataset=lambda wc: dataset_args(wc.dataset),
        method=lambda wc: method_entry(wc.label)["method"],
        settings=preparation_settings,
    shell:
        "OMP_NUM_THREADS={threads} dsbench prepare {params.method:q} {params.dataset} "
        "--out {output:q} {params.settings} > {log:q} 2>&1"
