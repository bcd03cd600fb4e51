"""What scripts/plot_compare.py, plot_sweep.py and plot_train.py share: their error type, reading
their JSON inputs, and writing their outputs all or nothing (each to a temporary name, then all
renamed into place)."""
import json
import os


class InputError(Exception):
    """Bad input or an output that cannot be written: one line on stderr, exit status 2."""


def write_outputs(out, names, draw, what):
    """Writes the files `names` into the folder `out` (made when missing) and returns their paths.

    draw(tmps) writes each output to the temporary path at the same place in `tmps`. Nothing is
    renamed into place until all are written. On failure the temporaries go (and `out` too when
    this call made it) and InputError says why: the folder when it cannot be written, else
    `what` ("<file>: not a ... as expected") with the error.
    """
    created = not os.path.isdir(out)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise InputError(f"{out}: cannot create the output folder ({e.strerror})")
    paths = [os.path.join(out, n) for n in names]
    tmps = [os.path.join(out, "." + n + ".tmp") for n in names]
    try:
        draw(tmps)
        for tmp, path in zip(tmps, paths):
            os.replace(tmp, path)
    except (KeyError, TypeError, AttributeError, ValueError, OSError) as e:
        for tmp in tmps:
            if os.path.exists(tmp):
                os.remove(tmp)
        if created:
            try:
                os.rmdir(out)
            except OSError:
                pass
        if isinstance(e, OSError):
            raise InputError(f"{out}: cannot write the outputs ({e.strerror})")
        raise InputError(f"{what} ({e!r})")
    return paths


def read_json_file(file, what):
    """The parsed JSON of `file`; InputError when it cannot be read (saying that `what` was
    expected there) or is not JSON."""
    try:
        with open(file) as f:
            return json.load(f)
    except OSError as e:
        raise InputError(f"{file}: cannot read ({e.strerror}); expected {what}")
    except ValueError as e:
        raise InputError(f"{file}: not JSON ({e})")
