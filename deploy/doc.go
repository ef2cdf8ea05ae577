// Package deploy holds no code: it is the home of rwkvgo's container images
// (docker/Dockerfile.cpu, docker/Dockerfile.cuda) and Kubernetes manifests
// (kubernetes/), and of the tests that check them without a cluster or a
// container runtime. The tests decode every manifest into the upstream API
// types (k8s.io/api, the Gateway API and the Gateway API Inference
// Extension), cross-check the objects against each other and against
// `rwkvgo serve`'s flags, run the Endpoint Picker's own metrics extractor
// over a live server's /metrics, and check the Dockerfiles' required
// properties. See README.md in this directory for the operator's guide.
package deploy
