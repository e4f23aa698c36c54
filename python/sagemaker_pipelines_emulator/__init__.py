"""SageMaker Pipelines, custom steps included, on one machine: the `pipelines-emulator`
command, its handler binaries, and a pytest fixture (`pipelines_emulator`).

    from sagemaker_pipelines_emulator import Emulator

    with Emulator(mocks="mocks.json") as emulator, emulator.environment():
        session = emulator.pipeline_session()
        ...
"""

from .emulator import DEFAULT_BUCKET, Emulator, EmulatorError, binary

__all__ = ["DEFAULT_BUCKET", "Emulator", "EmulatorError", "binary"]
