# The CronJob image of docs/fleet-cronjob.md: aml-doctor with the [live] extra, as a non-root user.
#   docker build -t myacr.azurecr.io/aml-doctor:0.1.0 .
# The wheel is built from this checkout in the first stage, so the image holds exactly what a
# user's `pip install` would, and no test tool, no example plugin and no source tree.
# CI (scripts/wheel_smoke.sh) runs each RUN line that calls pip, in a venv of the same Python;
# docker itself does not run there.
FROM python:3.12-slim AS build
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

FROM python:3.12-slim
COPY --from=build /dist /dist
RUN pip install --no-cache-dir "$(ls /dist/aml_doctor-*.whl)[live]" && rm -rf /dist
# A fixed numeric uid: a pod's runAsNonRoot check needs a number, not a name.
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin aml-doctor
USER 10001
ENTRYPOINT ["aml-doctor"]
CMD ["--help"]
