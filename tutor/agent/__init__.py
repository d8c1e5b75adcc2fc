"""The ReAct tutor agent: the tutor's own GPT (as a LangChain chat model) thinks, calls tools through
LangChain's AgentExecutor, and answers from the observations with citations."""
