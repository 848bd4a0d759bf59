"""The one llama.cpp version the app is tested with, and where its source comes from.

Provenance of the build number: the llama-cpp-python 0.3.36 sdist vendors llama.cpp commit
0c1e57098bba43ac29e6e3b677cdceebdd22334f (2026-10-01) with only a stub ``.git`` file, so the build number
cannot be derived from git there. Public notes that ran this exact commit report it as
``b11312-0c1e57098`` / "build 11312 (0c1e57098)", so the release tag is ``b11312``. If that ever proves
wrong, change ``build_number``/``tag`` here; nothing else hardcodes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PinnedLlamaCpp:
    commit: str
    build_number: int | None  # None would mean "unknown build number"; we pass it to cmake when known
    llama_cpp_python_version: str  # the PyPI sdist that vendors this exact tree
    sdist_sha256: str
    # The GitHub source archive's own sha256 cannot be known without downloading it (this project's build
    # machines reach only package registries). The archive is instead verified by content: these files,
    # hashed from the sdist's vendored tree (itself verified by ``sdist_sha256``), must match byte for
    # byte. They are the files that change with almost every upstream commit.
    key_files: dict[str, str] = field(default_factory=dict)
    # Recipe version: bump when the cmake flags or runtime layout change, so caches rebuild.
    recipe: int = 2  # 2: GGML_RPC=ON and the ggml-rpc-server worker

    @property
    def tag(self) -> str:
        return f"b{self.build_number}" if self.build_number is not None else self.commit[:9]

    @property
    def short_commit(self) -> str:
        return self.commit[:9]

    @property
    def sdist_filename(self) -> str:
        return f"llama_cpp_python-{self.llama_cpp_python_version}.tar.gz"

    @property
    def source_archive_url(self) -> str:
        return f"https://github.com/ggml-org/llama.cpp/archive/refs/tags/{self.tag}.tar.gz"

    @property
    def releases_api_url(self) -> str:
        return f"https://api.github.com/repos/ggml-org/llama.cpp/releases/tags/{self.tag}"

    def label(self) -> str:
        build = f"build {self.build_number}" if self.build_number is not None else "unknown build number"
        return f"llama.cpp {self.tag} ({build}, commit {self.short_commit})"


PINNED = PinnedLlamaCpp(
    commit="0c1e57098bba43ac29e6e3b677cdceebdd22334f",
    build_number=11312,
    llama_cpp_python_version="0.3.36",
    sdist_sha256="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e",
    key_files={
        "CMakeLists.txt": "cc74926303df70623265bd8439680adca32d4ed5aba8af1cdb64911e473e5c21",
        "convert_hf_to_gguf.py": "e9a1da876330bbce9687541ab31736542a01b4ac43c6686126514a50f122fb7f",
        "src/llama.cpp": "1c1c2a9adbfe2124e08cbaa76838a754ce5d144d319fce6c2e9c7342b0d311fa",
        "src/llama-model.cpp": "be90575de2cf5248ea42fbe7136a93325b394d3cdb7f9920e2f429f213f08493",
        "tools/server/server.cpp": "9cf6bf6f464fad94172c09b2f9e6a4eea3e69b96117ed1b14b31e0de094c130e",
        "tools/quantize/quantize.cpp": "2f51f78351c61415dbf757f05fe471cf833878f868922738d963b7b414e77eae",
        "common/arg.cpp": "782e5af161032c6b71412756724d65c2a6ad0091398c298b3cf973ed3ce49679",
        "ggml/src/ggml.c": "7e8bf2b60598b50d718f46aa3c36c9293b10f4e7dfde6844f0693e6fc976d505",
        "gguf-py/gguf/constants.py": "9fb6729dcc99fae97fe66c9c22fe246455dec36258d816986c32a5d3d74fc47f",
        "conversion/base.py": "bd50f07821358629d43f8772544434a1b760e20db324a94fd35a39d20a720781",
    },
)

# The oldest llama-server build whose flags we rely on (--jinja, --alias, /health, /props, -np, --api-key
# are all older than this). Builds that report 0 ("unknown", e.g. compiled from a tarball without git)
# cannot be judged and are reported as such.
MIN_SERVER_BUILD = 5000

# Where the sdist keeps the llama.cpp tree.
SDIST_TREE = "vendor/llama.cpp"
