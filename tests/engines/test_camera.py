"""The camera engine against R limma 3.54 (tests/data/rotation/make_reference.R) and on hand-made cases."""

import numpy as np
import pytest
from limma_reference import load_reference
from scipy import stats
from target_rationale.engines.camera import camera, zscore_t_hill


@pytest.fixture(scope="module")
def reference():
    return load_reference("camera")


@pytest.mark.parametrize("case", ["two_group", "paired", "contrast_vector"])
@pytest.mark.parametrize("correlation", [None, 0.01])
def test_camera_matches_limma(reference, case, correlation):
    y, designs, index, expected = reference
    design = designs.filter(like=f"{case}:").dropna()
    rows = expected.loc[(expected["case"] == case) & (expected["inter_gene_cor"].isna() if correlation is None
                                                      else expected["inter_gene_cor"] == correlation)]
    rows = rows.set_index("set")
    contrast_text = str(rows["contrast"].iloc[0])
    sets = {name: index[name] for name in rows.index}
    if "," in contrast_text:
        result = camera(y[design.index].to_numpy(), design.to_numpy(), sets,
                        contrast=[float(c) for c in contrast_text.split(",")], inter_gene_cor=correlation)
    else:
        column = int(contrast_text) - 1
        order = [k for k in range(design.shape[1]) if k != column] + [column]
        result = camera(y[design.index].to_numpy(), design.to_numpy()[:, order], sets, inter_gene_cor=correlation)
    result = result.loc[rows.index]
    assert (result["n_genes"] == rows["n_genes"]).all()
    assert (result["direction"] == rows["direction"]).all()
    np.testing.assert_allclose(result["p_value"], rows["p_value"], rtol=1e-6)


def test_the_estimated_correlation_protects_a_correlated_set(reference):
    """The reference's 40-gene 'programme' shares a sample factor: camera with the estimated correlation finds a
    clearly positive rho for it and none for the independent 'null' set."""
    y, designs, index, _ = reference
    design = designs.filter(like="two_group:").dropna()
    result = camera(y[design.index].to_numpy(), design.to_numpy(), {k: index[k] for k in ("programme", "null")})
    assert result.loc["programme", "correlation"] > 0.2
    assert abs(result.loc["null", "correlation"]) < 0.05


def test_hill_z_scores_match_the_t_quantiles():
    t = np.array([-6.0, -2.0, 0.5, 3.0])
    exact = stats.norm.ppf(stats.t.cdf(t, 12))
    np.testing.assert_allclose(zscore_t_hill(t, 12), exact, atol=1e-3)
