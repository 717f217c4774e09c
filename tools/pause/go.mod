module api-stack/tools/pause

go 1.26.0
