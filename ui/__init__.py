"""The kbqa web app (Gradio): `kbqa ui` serves `kbqa_ui.app`. Only `kbqa_ui.app` imports gradio."""
