# One image for every role; docker-compose.yml runs it once per role against a shared Redis 7.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY situationroom ./situationroom
COPY collectors ./collectors
COPY dashboards ./dashboards
COPY seeds ./seeds
COPY rules ./rules
COPY briefings ./briefings
RUN pip install --no-cache-dir . && useradd --system --uid 10001 situationroom
# The briefings' PDF font: static instances of the served Pretendard, made once here instead of at the first briefing.
ENV XDG_CACHE_HOME=/app/cache
RUN python -c "from situationroom.settings import Settings; from situationroom.briefings.fonts import static_fonts; \
static_fonts(Settings().font_cache)"
USER situationroom
# The site is the copy inside the package unless a site folder is mounted and named here.
ENV SITUATIONROOM_HOST=0.0.0.0
EXPOSE 8000
ENTRYPOINT ["situationroom"]
CMD ["up"]
