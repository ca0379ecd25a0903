"""Lesson 405: a Deep Q-Network balances CartPole, learning from a replay memory and a target net.

One training step of zoo's loop is one episode: the trainer plays it with an epsilon-greedy
policy, stores every transition in a circular replay memory, and once the memory is full learns
at every environment step from a minibatch drawn from it. gymnasium is imported only here, and
only when an environment is made.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import TensorDataset

from zoo_core import Splits, Trainer, ZooError

ENV_ID = "CartPole-v1"
INSTALL = "pip install 'zoo[rl]'"


# -- the environment -----------------------------------------------------------------------------
def make_env(render_mode: str | None = None) -> Any:
    """The unwrapped CartPole (no time limit, as in the lesson); a one-line error without gymnasium."""
    try:
        import gymnasium
    except ImportError as exc:
        raise ZooError(
            f"lesson 405 (dqn) plays {ENV_ID} with gymnasium, which is not installed: {INSTALL}"
        ) from exc
    return gymnasium.make(ENV_ID, render_mode=render_mode).unwrapped


def cartpole(episodes: int = 400, eval_episodes: int = 10, eval_seed: int = 10_000, seed: int = 0) -> Splits:
    """The seed of every training episode (drawn from the run's seed) and of every evaluation episode.

    The evaluation seeds are ``eval_seed, eval_seed + 1, ...`` whatever the run's seed, so every run
    is measured on the same starting states.
    """
    env = make_env()  # fails here, before training starts, when gymnasium is missing
    info = {
        "env": ENV_ID,
        "observation_size": int(env.observation_space.shape[0]),
        "actions": int(env.action_space.n),
    }
    env.close()
    gen = torch.Generator().manual_seed(seed)
    train = torch.randint(0, 2**31 - 1, (episodes,), generator=gen)
    evaluation = eval_seed + torch.arange(eval_episodes)
    return Splits(train=TensorDataset(train), eval=TensorDataset(evaluation), info=info)


def shaped_reward(env: Any, obs: Any) -> float:
    """The lesson's reward: more for a cart near the middle and a pole near upright (-1.3 to 0.7)."""
    x, theta = float(obs[0]), float(obs[2])
    near_middle = (env.x_threshold - abs(x)) / env.x_threshold - 0.8
    upright = (env.theta_threshold_radians - abs(theta)) / env.theta_threshold_radians - 0.5
    return near_middle + upright


# -- the model -----------------------------------------------------------------------------------
class QNet(nn.Module):
    """``Linear(n_states, n_hidden) - ReLU - Linear(n_hidden, n_actions)``: one Q value per action.

    Both weight matrices start from N(0, 0.1), as in the lesson; the biases keep torch's default.
    """

    def __init__(self, n_states: int = 4, n_actions: int = 2, n_hidden: int = 50) -> None:
        super().__init__()
        self.fc1 = nn.Linear(n_states, n_hidden)
        self.out = nn.Linear(n_hidden, n_actions)
        nn.init.normal_(self.fc1.weight, 0.0, 0.1)
        nn.init.normal_(self.out.weight, 0.0, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.fc1(x)))

    @torch.no_grad()
    def greedy(self, obs: Any) -> int:
        """The action with the highest Q value for one observation."""
        device = self.fc1.weight.device
        return int(self(torch.as_tensor(obs, device=device).unsqueeze(0)).argmax(1))


def play(model: QNet, seed: int, max_steps: int, env: Any = None) -> list[Any]:
    """The observations of one greedy episode from ``env.reset(seed)``, at most ``max_steps`` moves."""
    env = env or make_env()
    obs, _ = env.reset(seed=int(seed))
    seen = [obs]
    for _ in range(max_steps):
        obs, _, terminated, _, _ = env.step(model.greedy(obs))
        seen.append(obs)
        if terminated:
            break
    return seen


def draw_frames(seen: list[Any], env: Any, frames: int, path: Path, title: str = "") -> Path:
    """Evenly spaced frames of an episode, the whole track in each (drawn from the observations)."""
    from zoo_core import pyplot, save_figure

    picks = sorted({round(i * (len(seen) - 1) / max(frames - 1, 1)) for i in range(frames)})
    plt = pyplot()
    fig, axes = plt.subplots(len(picks), 1, figsize=(6, 0.95 * len(picks) + 0.4), squeeze=False)
    pole, edge = 2 * env.length, env.x_threshold  # env.length is half the pole
    for ax, i in zip(axes[:, 0], picks, strict=True):
        x, theta = float(seen[i][0]), float(seen[i][2])
        ax.plot([-edge, edge], [0, 0], c="0.6", lw=1)
        ax.plot([-edge, -edge, None, edge, edge], [-0.2, 0.2, None, -0.2, 0.2], c="tab:red", lw=1)
        ax.add_patch(plt.Rectangle((x - 0.25, -0.12), 0.5, 0.24, color="0.3"))
        ax.plot([x, x + pole * math.sin(theta)], [0, pole * math.cos(theta)], c="tab:orange", lw=3)
        ax.set_xlim(-edge - 0.4, edge + 0.4)
        ax.set_ylim(-0.3, 1.2)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.text(-edge - 0.35, 0.9, f"move {i}", fontsize=7)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


# -- the replay memory ---------------------------------------------------------------------------
class ReplayMemory:
    """The last ``size`` transitions (s, a, r, s', terminal) in preallocated tensors, overwritten in turn."""

    FIELDS = ("states", "actions", "rewards", "next_states", "terminals")

    def __init__(self, size: int, n_states: int, device: torch.device | str = "cpu") -> None:
        self.size = size
        self.states = torch.zeros(size, n_states, device=device)
        self.actions = torch.zeros(size, dtype=torch.long, device=device)
        self.rewards = torch.zeros(size, device=device)
        self.next_states = torch.zeros(size, n_states, device=device)
        self.terminals = torch.zeros(size, dtype=torch.bool, device=device)
        self.stored = 0  # transitions ever stored; the next one goes to stored % size

    def add(self, state: Any, action: int, reward: float, next_state: Any, terminal: bool) -> None:
        i = self.stored % self.size
        self.states[i] = torch.as_tensor(state)
        self.actions[i] = action
        self.rewards[i] = reward
        self.next_states[i] = torch.as_tensor(next_state)
        self.terminals[i] = terminal
        self.stored += 1

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """``n`` transitions drawn with replacement (the memory must be full)."""
        idx = torch.randint(0, self.size, (n,), generator=generator).to(self.states.device)
        return tuple(getattr(self, f)[idx] for f in self.FIELDS)

    def state_dict(self) -> dict[str, Any]:
        return {"stored": self.stored, **{f: getattr(self, f) for f in self.FIELDS}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stored = int(state["stored"])
        for f in self.FIELDS:
            getattr(self, f).copy_(state[f])


# -- training ------------------------------------------------------------------------------------
class DQNTrainer(Trainer):
    """One episode per step: act epsilon-greedily, remember, and learn at every move once memory is full.

    ``epsilon`` is the chance of a random action. The target network is refreshed from the
    model every ``target_every`` learning steps (at the first one too). The episode's exploration
    and minibatches come from a generator seeded with the episode's seed, which also resets the
    environment: nothing random is carried from one step to the next.
    """

    data_parallel = False  # one agent, one memory: episodes are played in order
    capturable = False  # the environment runs on the host, move by move
    manual = True  # it learns at every move of an episode, through the loop's helpers

    def __init__(
        self,
        memory_size: int = 2000,
        minibatch: int = 32,
        gamma: float = 0.9,
        epsilon: float = 0.1,
        target_every: int = 100,
        shaped_reward: bool = True,
        mask_terminal: bool = False,
        max_episode_steps: int = 1000,
        eval_max_steps: int = 500,
    ) -> None:
        self.memory_size = memory_size
        self.minibatch = minibatch
        self.gamma = gamma
        self.epsilon = epsilon
        self.target_every = target_every
        self.shaped_reward = shaped_reward
        self.mask_terminal = mask_terminal
        self.max_episode_steps = max_episode_steps
        self.eval_max_steps = eval_max_steps
        self.env: Any = None
        self.target: nn.Module | None = None
        self.memory: ReplayMemory | None = None
        self.learn_steps = 0
        self.rewards: list[float] = []  # every episode's reward and length, for the figure
        self.lengths: list[int] = []

    def configure_optimizers(self, model, make_optimizer):
        self.target = copy.deepcopy(model).requires_grad_(False)
        n_states = model.fc1.in_features
        self.memory = ReplayMemory(self.memory_size, n_states, device=model.fc1.weight.device)
        return {"main": make_optimizer(model.parameters())}

    def step(self, model, batch, opt):
        (seeds,) = batch
        if getattr(opt, "accumulate", 1) > 1:
            from zoo_core import ZooError

            raise ZooError("dqn learns at every move of an episode: --accumulate does not apply to it")
        if self.env is None:
            self.env = make_env()
        played = [self.episode(model, int(seed), opt) for seed in seeds.tolist()]
        out = {
            k: torch.tensor(sum(p[k] for p in played) / len(played), dtype=torch.float64)
            for k in played[0]
            if k != "loss"
        }
        losses = [p["loss"] for p in played if "loss" in p]
        if losses:  # no loss before the memory has filled
            out["loss"] = torch.stack(losses).mean()
        return out

    def episode(self, model: QNet, seed: int, opt: Any) -> dict[str, Any]:
        """Play one episode from ``env.reset(seed)``, learning as it goes; its reward, length and loss."""
        env, memory = self.env, self.memory
        gen = torch.Generator().manual_seed(seed)
        obs, _ = env.reset(seed=seed)
        total, moves, loss_sum, learnt = 0.0, 0, 0.0, 0
        while moves < self.max_episode_steps:
            if float(torch.rand((), generator=gen)) < self.epsilon:
                action = int(torch.randint(0, env.action_space.n, (), generator=gen))
            else:
                action = model.greedy(obs)
            next_obs, reward, terminated, _, _ = env.step(action)
            if self.shaped_reward:
                reward = shaped_reward(env, next_obs)
            memory.add(obs, action, reward, next_obs, terminated)
            total += reward
            moves += 1
            if memory.stored > memory.size:  # as in the lesson: learn once the memory has filled
                loss_sum = loss_sum + self.learn(model, opt, gen)
                learnt += 1
            if terminated:
                break
            obs = next_obs
        result = {"episode_reward": total, "episode_length": moves, "epsilon": self.epsilon}
        if learnt:
            result["loss"] = loss_sum / learnt
        self.rewards.append(total)
        self.lengths.append(moves)
        return result

    def learn(self, model: QNet, opt: Any, gen: torch.Generator) -> torch.Tensor:
        """One DQN update on a replayed minibatch: MSE between Q(s, a) and r + gamma * max Q_target(s')."""
        if self.learn_steps % self.target_every == 0:
            self.target.load_state_dict(model.state_dict())
        self.learn_steps += 1
        states, actions, rewards, next_states, terminals = self.memory.sample(self.minibatch, gen)
        q = model(states).gather(1, actions.unsqueeze(1)).squeeze(1)
        with torch.no_grad():
            q_next = self.target(next_states).max(1).values
            if self.mask_terminal:
                q_next = q_next.masked_fill(terminals, 0.0)
            target = rewards + self.gamma * q_next
        loss = nn.functional.mse_loss(q, target)
        opt.backward(loss)  # the loop's precision and clipping apply to every update
        opt.step("main")
        return loss.detach()

    def state_dict(self):
        return {
            "memory": self.memory.state_dict(),
            "target": self.target.state_dict(),
            "learn_steps": self.learn_steps,
            "rewards": torch.tensor(self.rewards, dtype=torch.float64),
            "lengths": torch.tensor(self.lengths, dtype=torch.long),
        }

    def load_state_dict(self, state):
        self.memory.load_state_dict(state["memory"])
        self.target.load_state_dict(state["target"])
        self.learn_steps = int(state["learn_steps"])
        self.rewards = state["rewards"].tolist()
        self.lengths = state["lengths"].tolist()

    def evaluate(self, model, data, device):
        model.eval()
        env = make_env()
        lengths = [
            len(play(model, seed, self.eval_max_steps, env)) - 1
            for seed in data.evaluation.tensors[0].tolist()
        ]
        env.close()
        return {"eval_reward": sum(lengths) / len(lengths), "eval_reward_min": float(min(lengths))}

    def figures(self, model, data, device, history, run_dir):
        if not self.rewards:
            return []
        from zoo_core import pyplot, save_figure

        plt = pyplot()
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
        episodes = range(1, len(self.rewards) + 1)
        top.plot(episodes, self.rewards, lw=0.8)
        top.set_ylabel("episode reward" + (" (shaped)" if self.shaped_reward else ""))
        top.set_title(f"DQN on {ENV_ID}: {len(self.rewards)} training episodes")
        bottom.plot(episodes, self.lengths, lw=0.8, c="tab:green")
        bottom.set_ylabel("episode length (steps)")
        bottom.set_xlabel("episode")
        bottom.set_yscale("log")
        stored = torch.tensor(self.lengths).cumsum(0)
        if int(stored[-1]) > self.memory_size:  # the episode in which the memory filled up
            start = int((stored > self.memory_size).nonzero()[0]) + 1
            for ax in (top, bottom):
                ax.axvline(start, c="0.5", ls="--", lw=0.8)
            top.annotate(" learning starts", (start, 0.95), xycoords=("data", "axes fraction"), fontsize=8)
        fig.tight_layout()
        return [save_figure(fig, Path(run_dir) / "episodes.png")]
