"""The most a policy that sees only the shopper's history can expect in RecoEnv1.

``HistoryCeilingAgent`` knows the simulator's static parameters (every product's organic
and click vectors and biases, and how fast a shopper's taste drifts), read from the
environment like the oracle, but **not** the shopper's hidden state ``omega``. It tracks
``omega`` with a particle filter over the shopper's organic views, as RecoEnv1 draws them:
a prior ``N(0, sigma_omega_initial^2 I)``, a random-walk step of ``sigma_omega`` before each
organic view, and the softmax likelihood of the viewed product. Each step it shows the
product with the highest posterior-expected click probability. No policy that learns from
logs can expect more on average (up to the filter's sampling error), so the share of the
headroom it reaches is what "all that is achievable" means on a setting. For measurement
only, like the oracle.
"""

import numpy as np
from oracle_agents import OracleAgent
from recogym.envs.reco_env_v1 import ff


class HistoryCeilingAgent(OracleAgent):
    """Bayes-optimal (up to the particle filter) history-only policy; see the module doc."""

    particles = 2000

    def attach_env(self, env):
        self.env = env
        self.organic = env.Gamma.astype(np.float32)
        self.organic_bias = env.mu_organic.ravel().astype(np.float32)
        self.click = env.beta.astype(np.float32)
        self.click_bias = env.mu_bandit.ravel().astype(np.float32)
        self.rng = np.random.default_rng(0)
        self.reset()
        return self

    def reset(self):
        self.omega = None
        self.choice = None

    def _view(self, item):
        config = self.env.config
        self.omega += self.rng.normal(size=self.omega.shape).astype(np.float32) * config.sigma_omega
        logits = self.omega @ self.organic.T + self.organic_bias
        top = logits.max(axis=1)
        norm = top + np.log(np.exp(logits - top[:, None]).sum(axis=1))
        self.log_w += logits[:, item] - norm
        w = np.exp(self.log_w - self.log_w.max())
        w /= w.sum()
        if 1.0 / float((w**2).sum()) < self.particles / 2:
            keep = self.rng.choice(self.particles, size=self.particles, p=w)
            self.omega, self.log_w = self.omega[keep], np.zeros(self.particles, np.float32)

    def act(self, observation, reward, done):
        if self.omega is None:
            k = self.organic.shape[1]
            spread = self.env.config.sigma_omega_initial
            self.omega = (self.rng.normal(size=(self.particles, k)) * spread).astype(np.float32)
            self.log_w = np.zeros(self.particles, np.float32)
        sessions = observation.sessions() or []
        for session in sessions:
            self._view(int(session["v"]))
        if sessions or self.choice is None:
            w = np.exp(self.log_w - self.log_w.max())
            ctr = np.asarray(ff((self.omega @ self.click.T + self.click_bias).astype(np.float64)))
            self.choice = int(np.argmax((w / w.sum()) @ ctr))
        context = observation.context()
        return {"t": context.time(), "u": context.user(), "a": self.choice, "ps": 1.0, "ps-a": ()}
