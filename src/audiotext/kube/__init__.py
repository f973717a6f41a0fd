"""The TranscriptionJob vocabulary shared by the gateway's executor and the operator."""
