"""A batch transform as SageMaker runs one: each input object under /opt/ml/transform/input
split into records (SplitType), batched into requests (BatchStrategy, MaxPayloadInMB),
each request served by the model's containers in order, the responses assembled
(AssembleWith) into /opt/ml/transform/output/<object>.out, with DataProcessing's
InputFilter, JoinSource and OutputFilter. Written from the documented behaviour of
SageMaker's batch transform, its XGBoost container and its inference toolkit; it runs in
the job's interpreter.

pipelines-emulator writes the job's settings into /opt/ml/input/config/transform.json."""

import csv
import gzip
import importlib
import io
import json
import os
import pickle
import sys

CONFIG = "/opt/ml/input/config/transform.json"
INPUT = "/opt/ml/transform/input"
OUTPUT = "/opt/ml/transform/output"
FAILURE = "/opt/ml/output/failure"


class ClientError(Exception):
    """The job's input or model is at fault; the job fails with it."""


# -- content ------------------------------------------------------------------------------


def base_type(content_type):
    return (content_type or "").split(";")[0].strip().lower()


def decode(body, content_type):
    """The inference toolkit's default input_fn."""
    import numpy as np

    kind = base_type(content_type)
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    if kind == "application/json":
        return np.array(json.loads(text))
    if kind in ("text/csv", "csv", ""):
        rows = [r for r in csv.reader(io.StringIO(text)) if r]
        return np.array(rows, dtype=float)
    if kind == "application/x-npy":
        return np.load(io.BytesIO(body), allow_pickle=False)
    raise ClientError(f"Content type {content_type} is not supported by the default input_fn")


def encode(prediction, accept):
    """The inference toolkit's default output_fn."""
    import numpy as np

    kind = base_type(accept)
    if kind in ("application/json", "application/jsonlines"):
        value = prediction.tolist() if hasattr(prediction, "tolist") else prediction
        return json.dumps(value).encode()
    if kind in ("text/csv", "csv", ""):
        array = np.asarray(prediction)
        out = io.StringIO()
        if array.ndim <= 1:
            for value in array.reshape(-1):
                out.write(f"{value}\n")
        else:
            csv.writer(out, lineterminator="\n").writerows(array.tolist())
        return out.getvalue().encode()
    if kind == "application/x-npy":
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(prediction))
        return buffer.getvalue()
    raise ClientError(f"Accept type {accept} is not supported by the default output_fn")


# -- models -------------------------------------------------------------------------------


class XGBoostAlgorithm:
    """The XGBoost container serving a model it trained: CSV (no label, no header) or
    libsvm in, one prediction per record out."""

    def __init__(self, model_dir):
        import xgboost as xgb

        self.xgb = xgb
        files = [f for f in sorted(os.listdir(model_dir)) if not f.startswith(".")]
        if not files:
            raise ClientError(f"the model in {model_dir} has no file")
        path = os.path.join(model_dir, "xgboost-model" if "xgboost-model" in files else files[0])
        try:
            with open(path, "rb") as f:
                self.booster = pickle.load(f)
        except Exception:
            self.booster = xgb.Booster()
            self.booster.load_model(path)

    def __call__(self, body, content_type, accept):
        import numpy as np

        kind = base_type(content_type) or "text/csv"
        text = body.decode("utf-8")
        if kind in ("text/csv", "csv"):
            rows = [r for r in csv.reader(io.StringIO(text)) if r]
            try:
                features = np.array(rows, dtype=float)
            except ValueError as e:
                raise ClientError(f"Loading csv data failed with Exception, please ensure data is in csv format: {e}")
            expected = self.booster.num_features()
            if features.shape[1] not in (expected, expected + 1):
                raise ClientError(f"Feature size of csv inference data {features.shape[1]} is not consistent with feature size of trained model {expected}")
            if features.shape[1] == expected + 1:
                features = features[:, 1:]
            matrix = self.xgb.DMatrix(features)
        elif kind in ("text/libsvm", "text/x-libsvm", "libsvm"):
            path = os.path.join("/opt/ml/transform", ".request.libsvm")
            with open(path, "w") as f:
                f.write(text if text.endswith("\n") else text + "\n")
            matrix = self.xgb.DMatrix(f"{path}?format=libsvm")
        else:
            raise ClientError(f"Content type {content_type} is not supported by the XGBoost container")
        predictions = self.booster.predict(matrix)
        accept_kind = base_type(accept) or "text/csv"
        if accept_kind == "application/json":
            return json.dumps({"predictions": [{"score": float(p)} for p in predictions.reshape(-1)]}).encode()
        if accept_kind == "application/jsonlines":
            return "".join(json.dumps({"score": float(p)}) + "\n" for p in predictions.reshape(-1)).encode()
        return "".join(f"{p}\n" for p in predictions.reshape(-1)).encode()


class ScriptModel:
    """A framework model served as the inference toolkit serves it: the handlers of the
    SAGEMAKER_PROGRAM module, the toolkit's defaults where it has none."""

    def __init__(self, model_dir, program, code_dir, default_predict):
        sys.path.insert(0, code_dir)
        module = importlib.import_module(os.path.splitext(program)[0])
        self.module = module
        self.transform_fn = getattr(module, "transform_fn", None)
        self.input_fn = getattr(module, "input_fn", None) or (lambda body, ct: decode(body, ct))
        self.output_fn = getattr(module, "output_fn", None) or (lambda p, accept: encode(p, accept))
        self.predict_fn = getattr(module, "predict_fn", None) or default_predict
        model_fn = getattr(module, "model_fn", None)
        if model_fn is None:
            raise ClientError(
                "Please provide a model_fn implementation. See documentation for model_fn at https://sagemaker.readthedocs.io/en/stable/"
            )
        self.model = call(model_fn, model_dir)

    def __call__(self, body, content_type, accept):
        if self.transform_fn is not None:
            answer = call(self.transform_fn, self.model, body, content_type, accept)
            return answer[0] if isinstance(answer, tuple) else answer
        data = call(self.input_fn, body, content_type)
        prediction = call(self.predict_fn, data, self.model)
        answer = call(self.output_fn, prediction, accept)
        answer = answer[0] if isinstance(answer, tuple) else answer
        return answer.encode() if isinstance(answer, str) else answer


def call(handler, *args):
    """A handler takes an optional trailing context; the toolkit passes it when asked."""
    import inspect

    try:
        wanted = len(inspect.signature(handler).parameters)
    except (TypeError, ValueError):
        wanted = len(args)
    return handler(*args, None) if wanted == len(args) + 1 else handler(*args)


def default_predict(data, model):
    if not hasattr(model, "predict"):
        raise ClientError("the model has no predict method, and the script no predict_fn")
    return model.predict(data)


def load(container):
    if container["mode"] == "xgboost":
        return XGBoostAlgorithm(container["model_dir"])
    return ScriptModel(container["model_dir"], container["program"], container["code_dir"], default_predict)


# -- records ------------------------------------------------------------------------------


def records(data, split_type):
    if split_type in (None, "", "None"):
        return [data]
    if split_type == "Line":
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        return [line.rstrip(b"\r") for line in lines]
    raise ClientError(f"SplitType {split_type} is not run by pipelines-emulator's batch transform")


def batches(items, strategy, limit):
    if strategy == "MultiRecord":
        batch, size = [], 0
        for record in items:
            if len(record) > limit:
                raise ClientError(f"a record of {len(record)} bytes is over MaxPayloadInMB ({limit} bytes)")
            if batch and size + len(record) + 1 > limit:
                yield batch
                batch, size = [], 0
            batch.append(record)
            size += len(record) + 1
        if batch:
            yield batch
    else:
        for record in items:
            if len(record) > limit:
                raise ClientError(f"a record of {len(record)} bytes is over MaxPayloadInMB ({limit} bytes)")
            yield [record]


# -- DataProcessing: a JSONPath subset ------------------------------------------------------


def as_json(record, content_type):
    kind = base_type(content_type)
    text = record.decode("utf-8")
    if kind == "application/json" or kind == "application/jsonlines":
        return json.loads(text), "json"
    # A CSV record's fields stay the text they are: a join or a filter writes them back
    # as they came ("0.200" stays "0.200").
    return next(csv.reader(io.StringIO(text)), []), "csv"


def select(value, path):
    """`$`, `$[i]`, `$[a:b]`, `$[i,j,...]`, `$.key`, `$['key']` and chains of them."""
    if not path or not path.startswith("$"):
        raise ClientError(f"JSONPath {path!r} does not start with $")
    rest = path[1:]
    while rest:
        if rest.startswith("."):
            name = rest[1:].split(".")[0].split("[")[0]
            value = member(value, name, path)
            rest = rest[1 + len(name):]
        elif rest.startswith("["):
            end = rest.index("]")
            inside, rest = rest[1:end], rest[end + 1:]
            if inside.startswith(("'", '"')):
                value = member(value, inside.strip("'\""), path)
            elif ":" in inside:
                start, stop = (int(x) if x.strip() else None for x in inside.split(":", 1))
                value = value[start:stop]
            elif "," in inside:
                value = [index(value, int(i), path) for i in inside.split(",")]
            else:
                value = index(value, int(inside), path)
        else:
            raise ClientError(f"JSONPath {path!r} is not one pipelines-emulator reads")
    return value


def member(value, name, path):
    if not isinstance(value, dict) or name not in value:
        raise ClientError(f"JSONPath {path} selects {name}, which the record does not have")
    return value[name]


def index(value, i, path):
    if not isinstance(value, list) or not -len(value) <= i < len(value):
        raise ClientError(f"JSONPath {path}: index {i} is out of range of the record")
    return value[i]


def to_bytes(value, kind):
    if kind == "json":
        return json.dumps(value).encode()
    items = value if isinstance(value, list) else [value]
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(items)
    return out.getvalue().encode()


# -- the job ------------------------------------------------------------------------------


def serve(config, models, body):
    content_type, accept = config.get("content_type"), config.get("accept")
    for i, model in enumerate(models):
        last = i == len(models) - 1
        body = model(body, content_type, accept if last else content_type)
    return body


def transform_object(config, models, data):
    split = config.get("split_type")
    processing = config.get("data_processing") or {}
    input_filter, output_filter = processing.get("InputFilter"), processing.get("OutputFilter")
    join = processing.get("JoinSource") == "Input"
    if (input_filter or output_filter or join) and split in (None, "", "None"):
        raise ClientError("DataProcessing needs SplitType Line: a record is what the filters read")
    content_type = config.get("content_type")
    originals = records(data, split)
    requests = []
    for record in originals:
        if input_filter and input_filter != "$":
            value, kind = as_json(record, content_type)
            record = to_bytes(select(value, input_filter), kind)
        requests.append(record)
    limit = int(config["max_payload_mb"] * 1024 * 1024)
    responses = []
    for batch in batches(requests, config.get("batch_strategy"), limit):
        answer = serve(config, models, b"\n".join(batch))
        if len(batch) > 1 or join or output_filter:
            lines = [l for l in answer.split(b"\n") if l.strip()]
            if len(lines) != len(batch):
                raise ClientError(f"the model answered {len(lines)} lines for {len(batch)} records")
            responses += lines
        else:
            responses.append(answer)
    if join or output_filter:
        joined = []
        for original, response in zip(originals, responses):
            output, kind = as_json(response, config.get("accept") or content_type)
            if join:
                source, kind = as_json(original, content_type)
                if kind == "json":
                    record = dict(source) if isinstance(source, dict) else {"SageMakerInput": source}
                    record["SageMakerOutput"] = output
                else:
                    record = source + (output if isinstance(output, list) else [output])
            else:
                record = output
            if output_filter and output_filter != "$":
                record = select(record, output_filter)
            joined.append(to_bytes(record, kind))
        responses = joined
    separator = b"\n" if config.get("assemble_with") == "Line" else b""
    if separator:
        return b"".join(r.rstrip(b"\n") + separator for r in responses)
    return b"".join(responses)


def main():
    with open(CONFIG) as f:
        config = json.load(f)
    models = [load(c) for c in config["containers"]]
    count = 0
    for root, _, names in os.walk(INPUT):
        for name in sorted(names):
            path = os.path.join(root, name)
            relative = os.path.relpath(path, INPUT)
            with open(path, "rb") as f:
                data = f.read()
            if config.get("compression") == "Gzip":
                data = gzip.decompress(data)
            try:
                result = transform_object(config, models, data)
            except ClientError as e:
                raise ClientError(f"{relative}: {e}")
            except Exception as e:
                raise ClientError(f"{relative}: the model failed: {type(e).__name__}: {e}")
            target = os.path.join(OUTPUT, relative + ".out")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(result)
            count += 1
    print(f"pipelines-emulator: transformed {count} object(s)", flush=True)


if __name__ == "__main__":
    try:
        main()
    except ClientError as e:
        os.makedirs(os.path.dirname(FAILURE), exist_ok=True)
        with open(FAILURE, "w") as f:
            f.write(f"ClientError: {e}")
        print(f"ClientError: {e}", file=sys.stderr)
        sys.exit(2)
