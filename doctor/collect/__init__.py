"""Live collectors: read a cluster, a storage account and a workspace, and write an evidence bundle."""
