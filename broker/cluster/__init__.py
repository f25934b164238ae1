"""A local three-node RabbitMQ cluster (`python -m broker.cluster up|status|down`).

`layout` names the nodes and their ports, `lifecycle` starts, clusters and stops them,
`status` reports what each node sees, `leaders` which node leads each quorum queue. The nodes
are `broker.local_node.LocalNode`s: processes of their own beside the machine's shared node.
"""
