"""NumPyro reference (JAX, CPU, float64) for the gmm_N500_K3_score row (docs/benchmarks.md):
the model and guide of bench/pyro_score_mixture.py under NumPyro's TraceGraph_ELBO, Adam lr
0.05, 1 particle. Two figures, as ../shared/bench/numpyro_reference.py:
  jit_step  - a Python loop over a jitted svi.update
  compiled  - lax.fori_loop over svi.update inside one jit (the figure to beat)
NumPyro 0.22 has no score-function baselines: its TraceGraph_ELBO takes no `baseline` in a
site's `infer` (nothing in numpyro.infer reads one), so this runs the same Rao-Blackwellised
estimator (each z_n scored against its own downstream cost) with no baseline — less work per
step than sviserve's and Pyro's decaying average, and a noisier gradient.
Run pinned to one core:
  XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
    taskset -c 1 python bench/numpyro_score_mixture.py [out.json] [spec.json]"""
import json, sys, time
import jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
import numpyro, numpyro.distributions as dist
from numpyro.distributions import constraints
from numpyro.infer import SVI, TraceGraph_ELBO
from numpyro.optim import Adam

res = {}

def timeit(name, svi, steps_jit, steps_compiled):
    state = svi.init(jax.random.PRNGKey(0))
    upd = jax.jit(svi.update)
    for _ in range(20): state, loss = upd(state)
    loss.block_until_ready()
    t = time.perf_counter()
    for _ in range(steps_jit): state, loss = upd(state)
    loss.block_until_ready()
    jit_rate = steps_jit / (time.perf_counter() - t)

    @jax.jit
    def many(state):
        return jax.lax.fori_loop(0, steps_compiled, lambda i, s: svi.update(s)[0], state)
    jax.block_until_ready(many(state))  # compile + warm
    t = time.perf_counter()
    out = jax.block_until_ready(many(state))
    comp_rate = steps_compiled / (time.perf_counter() - t)
    res[name] = {"jit_step_steps_per_s": jit_rate, "compiled_steps_per_s": comp_rate, "last_loss": float(loss)}
    print(f"{name}: jit_step {jit_rate:.0f} steps/s, compiled {comp_rate:.0f} steps/s", flush=True)

def data(N, K):
    if len(sys.argv) > 2:
        return jnp.array(json.load(open(sys.argv[2]))["data"]["x"])
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    centers = jnp.array([-4., 0., 4.])
    return centers[jax.random.randint(k1, (N,), 0, K)] + jax.random.normal(k2, (N,))

def gmm_score(N=500, K=3):
    x = data(N, K)
    def model():
        mu = numpyro.sample("mu", dist.Normal(jnp.zeros(K), 10.).to_event(1))
        with numpyro.plate("data", N):
            z = numpyro.sample("z", dist.Categorical(probs=jnp.ones(K) / K))
            numpyro.sample("x", dist.Normal(mu[z], 1.), obs=x)
    def guide():
        m = numpyro.param("m", jnp.array([-1., 0., 1.])); s = numpyro.param("s", jnp.ones(K), constraint=constraints.positive)
        numpyro.sample("mu", dist.Normal(m, s).to_event(1))
        logits = numpyro.param("logits", jnp.zeros((N, K)))
        with numpyro.plate("data", N):
            numpyro.sample("z", dist.Categorical(logits=logits))
    timeit(f"gmm_N{N}_K{K}_score", SVI(model, guide, Adam(0.05), TraceGraph_ELBO()), 2000, 10000)

gmm_score()
json.dump(res, open(sys.argv[1] if len(sys.argv) > 1 else "/dev/stdout", "w"), indent=1)
