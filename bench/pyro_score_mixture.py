"""Pyro reference for the gmm_N500_K3_score row (docs/benchmarks.md): the 3-component 1-d
mixture of ../shared/bench/README.md with integer assignments scored by the score-function
estimator, as sviserve's row runs it:
  guide  mu ~ Normal(m, s).to_event(1); z_n ~ Categorical(logits_n) in plate "data" with a
         decaying-average baseline, beta = 0.9
  model  mu ~ Normal(0, 10).to_event(1); z_n ~ Categorical(1/3); x_n ~ Normal(mu[z_n], 1)
  TraceGraph_ELBO (each z_n's cost is its own downstream terms), Adam lr 0.05, 1 particle.
float64, one thread, 20 warm-up steps, then timed steps (as ../shared/bench/pyro_reference.py).
Run: python bench/pyro_score_mixture.py [out.json] [spec.json]
(spec.json: the row's spec from `sviserve-bench --write-specs DIR`, for sviserve's own data;
without it the data are drawn as the shared reference draws the relaxed row's.)"""
import json, sys, time
import torch, pyro
import pyro.distributions as dist
from pyro.infer import SVI, TraceGraph_ELBO
from torch.distributions import constraints
torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)
res = {}

def timeit(name, svi, steps):
    for _ in range(20): svi.step()
    t = time.perf_counter()
    for _ in range(steps): loss = svi.step()
    dt = time.perf_counter() - t
    res[name] = {"steps_per_s": steps / dt, "last_loss": loss}
    print(name, f"{steps/dt:.1f} steps/s", loss, flush=True)

def data(N, K):
    if len(sys.argv) > 2:
        return torch.tensor(json.load(open(sys.argv[2]))["data"]["x"])
    g = torch.Generator().manual_seed(0)
    centers = torch.tensor([-4., 0., 4.])
    return centers[torch.randint(0, K, (N,), generator=g)] + torch.randn(N, generator=g)

def gmm_score(N=500, K=3):
    pyro.clear_param_store()
    x = data(N, K)
    def model():
        mu = pyro.sample("mu", dist.Normal(torch.zeros(K), 10.).to_event(1))
        with pyro.plate("data", N):
            z = pyro.sample("z", dist.Categorical(probs=torch.ones(K) / K))
            pyro.sample("x", dist.Normal(mu[z], 1.), obs=x)
    def guide():
        m = pyro.param("m", torch.tensor([-1., 0., 1.])); s = pyro.param("s", torch.ones(K), constraint=constraints.positive)
        pyro.sample("mu", dist.Normal(m, s).to_event(1))
        logits = pyro.param("logits", torch.zeros(N, K))
        with pyro.plate("data", N):
            pyro.sample("z", dist.Categorical(logits=logits),
                        infer={"baseline": {"use_decaying_avg_baseline": True, "baseline_beta": 0.9}})
    timeit(f"gmm_N{N}_K{K}_score", SVI(model, guide, pyro.optim.Adam({"lr": 0.05}), TraceGraph_ELBO()), 500)

gmm_score()
json.dump(res, open(sys.argv[1] if len(sys.argv) > 1 else "/dev/stdout", "w"), indent=1)
