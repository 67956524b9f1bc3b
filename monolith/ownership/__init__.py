"""Who owns each extracted domain's data — the monolith or its service — as the migration engine records it at
the flip of a cutover or rollback (docs/seam.md). The monolith's seams read it to choose which side answers."""
