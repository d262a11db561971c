"""ArviZ on a result: az.summary of the client's InferenceData agrees with the service's own
posterior summaries, within what the draws' standard errors allow."""
import math
import os

import arviz as az

import sviserve


def test_az_summary_matches_the_services_summaries(server, examples):
    client = sviserve.Client(server)
    result = client.run(os.path.join(examples, "linreg_mvn_reparam.json"), progress=False)
    idata = result.to_arviz(n=2000, seed=7)
    assert isinstance(idata, az.InferenceData)
    summary = az.summary(idata, var_names=["w"], kind="stats", round_to="none")
    service = result.posterior["w"]
    for i in range(3):
        row = summary.loc[f"w[{i}]"]
        sd = service["sd"][i]
        # Independent draw sets (the service's ~1,000, these 2,000): the means differ by less
        # than 4 standard errors of their difference; the sds by less than 4 of theirs.
        se_mean = sd * math.sqrt(1 / service["draws"] + 1 / 2000)
        se_sd = sd * math.sqrt(1 / (2 * service["draws"]) + 1 / (2 * 2000))
        assert abs(row["mean"] - service["mean"][i]) < 4 * se_mean, (i, row["mean"], service["mean"][i])
        assert abs(row["sd"] - sd) < 4 * se_sd, (i, row["sd"], sd)
