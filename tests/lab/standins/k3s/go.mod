module k3s-gpu-node/lab/standins/k3s

go 1.26

require gopkg.in/yaml.v3 v3.0.1

require github.com/BurntSushi/toml v1.5.0
